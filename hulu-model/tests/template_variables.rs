//! `PrepareOptions::template_variables` reach the chat template: Qwen3's `enable_thinking`
//! and `tools`, read by a checkpoint template written the way Qwen3's reads them (the plain
//! Qwen3 template in the tiny model's `tokenizer_config.json` expects string contents, which
//! Hulu-Med's multimodal turns are not).

use hulu_model::{HuluMedBuilder, PrepareOptions, Turn};
use serde_json::json;

fn qwen3_template_model() -> hulu_model::HuluMed {
    let tiny = hulu_testkit::fixtures_root().join("models/tiny-qwen2");
    let dir = std::env::temp_dir().join(format!("hulu-template-vars-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&tiny).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "chat_template.json" {
            std::os::unix::fs::symlink(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    let template = "{%- if tools %}<|im_start|>system\n<tools>{% for tool in tools %}\
        {{ tool | tojson }}{% endfor %}</tools><|im_end|>\n{% endif %}\
        {%- for m in messages %}<|im_start|>{{ m.role }}\n{% for p in m.content %}\
        {{ p.text }}{% endfor %}<|im_end|>\n{% endfor %}\
        {%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}\
        {%- if enable_thinking is defined and enable_thinking is false %}\
        {{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}{% endif %}";
    std::fs::write(
        dir.join("chat_template.json"),
        serde_json::to_string(&json!({ "chat_template": template })).unwrap(),
    )
    .unwrap();
    HuluMedBuilder::new(&dir).build().unwrap()
}

fn prompt(model: &hulu_model::HuluMed, variables: serde_json::Value) -> String {
    let options = PrepareOptions {
        template_variables: variables.as_object().unwrap().clone(),
        ..PrepareOptions::default()
    };
    let turns = [Turn::user(vec![hulu_model::Item::Text("Hi".into())])];
    model.render_prompt(&turns, &options).unwrap().prompt
}

#[test]
fn enable_thinking_and_tools_reach_the_template() {
    let model = qwen3_template_model();
    let plain = prompt(&model, json!({}));
    assert!(plain.ends_with("<|im_start|>assistant\n"), "{plain:?}");
    // Qwen3: thinking off renders an empty reasoning block after the generation prompt.
    let no_think = prompt(&model, json!({"enable_thinking": false}));
    assert_eq!(no_think, format!("{plain}<think>\n\n</think>\n\n"));
    assert_eq!(prompt(&model, json!({"enable_thinking": true})), plain);
    let tools = prompt(
        &model,
        json!({"tools": [{"type": "function", "function": {"name": "lookup_report", "parameters": {}}}]}),
    );
    assert!(tools.starts_with("<|im_start|>system\n"), "{tools:?}");
    assert!(
        tools.contains("<tools>") && tools.contains("\"name\": \"lookup_report\""),
        "{tools:?}"
    );
}
