"""Writes tojson_cases.json: chat-template renders as `transformers` produces them.

The environment copies what transformers' chat-template code sets up (sandboxed Jinja2 with
trim_blocks, lstrip_blocks, loop controls, and a tojson filter that is json.dumps with
ensure_ascii=False), so the expected text is the reference's. Run with jinja2 installed:

    python3 hulu-model/tests/data/gen_tojson_cases.py
"""

import json
import pathlib

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parents[3]


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def raise_exception(message):
    raise ValueError(message)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

# Keys deliberately out of alphabetical order: the reference keeps insertion order.
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Météo for a city — «quoted» \"text\", tab\there, line\nbreak, emoji 🩻",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "Name, e.g. Zürich"},
                "days": {"type": "integer", "minimum": 1, "maximum": 14, "default": 3},
                "threshold": {"type": "number", "default": 0.5, "examples": [1.0, 1e-05, 1e16, -0.0]},
                "flags": {"type": "array", "items": {}, "default": []},
                "nullable": {"type": ["string", "null"], "default": None, "enabled": True},
            },
            "required": ["city"],
        },
    },
}
SEGMENT = {
    "type": "function",
    "function": {"name": "segment_liver", "parameters": {"z_range": [12, 48], "hu": {"window": 400, "level": 40}}},
}
VALUE = {"b": 1, "a": [1.5, "x\u0001y", {"é": None}], "c": {}, "d": [], "e": "<tag> & 'q'"}

filter_cases = [
    ("plain", "{{ value | tojson }}"),
    ("indent_int", "{{ value | tojson(indent=2) }}"),
    ("indent_string", "{{ value | tojson(indent='\t') }}"),
    ("sort_keys", "{{ value | tojson(sort_keys=true) }}"),
    ("ensure_ascii", "{{ value | tojson(ensure_ascii=true) }}"),
    ("separators", "{{ value | tojson(separators=(',', ':')) }}"),
    ("map_items_keep_order", "{% for k, v in value.items() %}{{ k }}={{ v | tojson }};{% endfor %}"),
]

cases = []
for name, source in filter_cases:
    context = {"value": VALUE}
    cases.append({
        "name": name,
        "template": source,
        "messages": [],
        "extra": context,
        "add_generation_prompt": False,
        "expected": env.from_string(source).render(messages=[], add_generation_prompt=False, **context),
    })

# The fixture checkpoints' tokenizer_config.json template (Qwen's, with tools).
for model in ["tiny-qwen2", "tiny-qwen3"]:
    source = json.loads((ROOT / "tests/fixtures/models" / model / "tokenizer_config.json").read_text())["chat_template"]
    messages = [
        {"role": "system", "content": "You read CT scans."},
        {"role": "user", "content": "Where is the liver? Use a tool if needed."},
    ]
    extra = {"tools": [WEATHER, SEGMENT]}
    cases.append({
        "name": f"{model}_tools",
        "model": model,
        "messages": messages,
        "extra": extra,
        "add_generation_prompt": True,
        "expected": env.from_string(source).render(messages=messages, add_generation_prompt=True, **extra),
    })

(HERE / "tojson_cases.json").write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n")
print(f"wrote {len(cases)} cases")
