//! `tojson` and mapping order against what `transformers` renders (Jinja2 with its `tojson`
//! filter, i.e. Python's `json.dumps`). The expected texts come from
//! `tests/data/gen_tojson_cases.py`; the tool cases render the fixture checkpoints' own
//! `tokenizer_config.json` template, which prints every tool schema through `tojson`.

use hulu_model::template::Message;
use hulu_model::{ChatTemplate, Error, TemplateOptions};
use hulu_testkit::fixtures_root;
use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Deserialize)]
struct Case {
    name: String,
    /// An inline template, or none to use `model`'s tokenizer_config template.
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    model: Option<String>,
    messages: Vec<Message>,
    extra: serde_json::Map<String, Json>,
    add_generation_prompt: bool,
    expected: String,
}

fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tojson_cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn tokenizer_config_template(model: &str) -> ChatTemplate {
    let path = fixtures_root()
        .join("models")
        .join(model)
        .join("tokenizer_config.json");
    let config: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    ChatTemplate::new(config["chat_template"].as_str().unwrap()).unwrap()
}

#[test]
fn tojson_renders_what_transformers_renders() {
    let cases = cases();
    assert!(cases.len() >= 9, "only {} cases", cases.len());
    for case in cases {
        let template = match (&case.template, &case.model) {
            (Some(source), _) => ChatTemplate::new(source.as_str()).unwrap(),
            (None, Some(model)) => tokenizer_config_template(model),
            (None, None) => panic!("case {} names no template", case.name),
        };
        let options = TemplateOptions {
            add_generation_prompt: case.add_generation_prompt,
            extra: case.extra.clone(),
            ..TemplateOptions::default()
        };
        let rendered = template.render_with(&case.messages, &options).unwrap();
        assert_eq!(rendered, case.expected, "case {}", case.name);
    }
}

#[test]
fn tojson_refuses_what_json_dumps_refuses() {
    let render = |source: &str| ChatTemplate::new(source).unwrap().render(&[], false);
    // json.dumps(Undefined) raises TypeError in the reference.
    assert!(matches!(
        render("{{ nothing | tojson }}"),
        Err(Error::Template(_))
    ));
    assert!(matches!(
        render("{{ {'a': 1} | tojson(indent='x', bogus=1) }}"),
        Err(Error::Template(_))
    ));
    assert!(matches!(
        render("{{ 1 | tojson(separators=(',',)) }}"),
        Err(Error::Template(_))
    ));
    // Nesting far beyond any schema is refused instead of exhausting the stack.
    let mut deep = Json::from(1);
    for _ in 0..600 {
        deep = Json::Array(vec![deep]);
    }
    let mut options = TemplateOptions::default();
    options.extra.insert("deep".into(), deep);
    let template = ChatTemplate::new("{{ deep | tojson }}").unwrap();
    assert!(matches!(
        template.render_with(&[], &options),
        Err(Error::Template(m)) if m.contains("deeply")
    ));
}

mod round_trip {
    use super::*;
    use proptest::prelude::*;

    /// Strings over all of Unicode, and strings made of the characters JSON escapes or that
    /// `ensure_ascii` must write as (surrogate-pair) escapes, which random Unicode rarely hits.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            r#"[\x00-\x20"\\/aé\x7f\u{2028}\u{FFFF}🩻]{0,12}"#,
        ]
    }

    /// Any JSON value: such strings, integers of both signs and beyond `i64`, finite floats,
    /// nested lists and objects.
    fn json_value() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::from),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |x| x.is_finite())
                .prop_map(Json::from),
            text().prop_map(Json::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                prop::collection::vec((text(), inner), 0..6)
                    .prop_map(|entries| Json::Object(entries.into_iter().collect())),
            ]
        })
    }

    fn render(value: &Json, filter: &str) -> String {
        let mut options = TemplateOptions::default();
        options.extra.insert("value".into(), value.clone());
        ChatTemplate::new(format!("{{{{ value | {filter} }}}}"))
            .unwrap()
            .render_with(&[], &options)
            .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(hulu_testkit::fuzz_cases(256)))]

        /// Whatever the formatting options, the text parses back to the same value, with keys
        /// in the same order.
        #[test]
        fn tojson_reads_back_as_the_same_value(value in json_value()) {
            for filter in ["tojson", "tojson(indent=2)", "tojson(ensure_ascii=true)"] {
                let text = render(&value, filter);
                let back: Json = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{filter} wrote invalid JSON {text:?}: {e}"));
                prop_assert_eq!(&back, &value, "{} wrote {:?}", filter, text);
                prop_assert_eq!(
                    serde_json::to_string(&back).unwrap(),
                    serde_json::to_string(&value).unwrap()
                );
                if filter.contains("ensure_ascii") {
                    prop_assert!(text.is_ascii(), "{:?}", text);
                }
            }
        }
    }
}
