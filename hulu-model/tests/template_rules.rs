//! The Jinja behaviours the reference relies on, checked on small templates and on the
//! fixture template.

use hulu_model::template::{Message, Part};
use hulu_model::{ChatTemplate, Error, Role};
use hulu_testkit::models;

fn render_value(source: &str) -> String {
    ChatTemplate::new(source)
        .unwrap()
        .render(&[], false)
        .unwrap()
}

#[test]
fn round_is_pythons_round() {
    // Python: round(0.25, 1) == 0.2, round(0.35, 1) == 0.3, round(2.5) == 2.0.
    assert_eq!(render_value("{{ 0.25 | round(1) }}"), "0.2");
    assert_eq!(render_value("{{ 0.35 | round(1) }}"), "0.3");
    assert_eq!(render_value("{{ 0.45 | round(1) }}"), "0.5");
    assert_eq!(render_value("{{ 2.5 | round }}"), "2.0");
    assert_eq!(render_value("{{ 3.5 | round }}"), "4.0");
    assert_eq!(render_value("{{ 0.966657 | round(1) | string }}"), "1.0");
    assert_eq!(render_value("{{ 2.25 | round(1, 'floor') }}"), "2.2");
    assert_eq!(render_value("{{ 2.21 | round(1, 'ceil') }}"), "2.3");
}

#[test]
fn blocks_are_trimmed_like_transformers() {
    // trim_blocks + lstrip_blocks: block tags leave no newline or indentation behind.
    let source =
        "{% for m in messages %}\n    {% if true %}\n{{ m.role }}|\n    {% endif %}\n{% endfor %}";
    let messages = [Message::system("x"), Message::user(vec![Part::text("y")])];
    let out = ChatTemplate::new(source)
        .unwrap()
        .render(&messages, false)
        .unwrap();
    assert_eq!(out, "system|\nuser|\n");
}

#[test]
fn python_string_methods_and_raise_exception_work() {
    assert_eq!(render_value("{{ '  a b '.strip().upper() }}"), "A B");
    assert_eq!(render_value("{{ 'x</think>y'.split('</think>')[1] }}"), "y");
    let template = ChatTemplate::new("{{ raise_exception('no tools here') }}").unwrap();
    let err = template.render(&[], false).unwrap_err();
    assert!(
        matches!(&err, Error::Template(m) if m.contains("no tools here")),
        "{err}"
    );
}

#[test]
fn bad_templates_are_typed_errors() {
    assert!(matches!(
        ChatTemplate::new("{% for %}"),
        Err(Error::Template(_))
    ));
    let empty = std::env::temp_dir().join("hulu-model-no-template");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        ChatTemplate::from_dir(&empty),
        Err(Error::NoChatTemplate { .. })
    ));
}

#[test]
fn fixture_template_renders_every_part_kind() {
    for dir in models() {
        println!("{}", dir.display());
        let template = ChatTemplate::from_dir(&dir).unwrap();
        let messages = [
            Message::system("sys"),
            Message::user(vec![
                Part::Image { time: Some(0.25) },
                Part::text("a"),
                Part::volume(3),
                Part::video(vec![0.0, 0.35, 1.25]),
                Part::text("b"),
            ]),
            Message::assistant("ok"),
            Message::new(Role::Other("stream".into()), vec![Part::text("live")]),
        ];
        let out = template.render(&messages, true).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nsys<|im_end|>\n\
             <|im_start|>user\nTime 0.2s: <image>\na<image>,<image>,<image>\n\
             Time 0.0s:<image>,Time 0.3s:<image>,Time 1.2s:<image>\nb<|im_end|>\n\
             <|im_start|>assistant\nok<|im_end|>\n\
             <|stream_start|>stream\nlive<|stream_end|>\n\
             <|im_start|>assistant\n"
        );
        assert_eq!(hulu_model::template::image_placeholders(&messages), 7);
        assert_eq!(out.matches("<image>").count(), 7);
    }
}

#[test]
fn special_tokens_of_the_config_reach_the_template() {
    for dir in models() {
        println!("{}", dir.display());
        let template = ChatTemplate::new("{{ eos_token }}|{{ pad_token }}|{{ bos_token }}")
            .unwrap()
            .with_special_tokens_of(&dir)
            .unwrap();
        // The fixtures have no BOS token: it renders as undefined (empty), as in Jinja2.
        assert_eq!(
            template.render(&[], false).unwrap(),
            "<|im_end|>|<|endoftext|>|"
        );
    }
}

#[test]
fn extra_variables_cannot_override_the_fixed_ones() {
    let template = ChatTemplate::new("{{ add_generation_prompt }}|{{ image_token }}|{{ mine }}")
        .unwrap()
        .with_special_tokens_of(models()[0].clone())
        .unwrap();
    let mut options = hulu_model::TemplateOptions::default();
    options.extra.insert(
        "add_generation_prompt".into(),
        serde_json::json!("overridden"),
    );
    options
        .extra
        .insert("mine".into(), serde_json::json!("extra"));
    options
        .extra
        .insert("eos_token".into(), serde_json::json!("<mine>"));
    assert_eq!(
        template.render_with(&[], &options).unwrap(),
        "True|<image>|extra"
    );
    let eos = ChatTemplate::new("{{ eos_token }}")
        .unwrap()
        .with_special_tokens_of(models()[0].clone())
        .unwrap();
    // Caller-supplied variables win over the config's special tokens.
    assert_eq!(eos.render_with(&[], &options).unwrap(), "<mine>");
}

/// `/work/shared/hostile/template-nested-loops`: two nested loops of 100,000 never ended and
/// grew memory. A template runs with fuel and a cap on its output.
#[test]
fn a_template_that_loops_or_grows_without_bound_stops_with_a_typed_error() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hostile/template-nested-loops");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("chat_template.json")).unwrap())
            .unwrap();
    let messages = [Message::user(vec![Part::text("hi")])];
    let nested = hulu_model::ChatTemplate::new(json["chat_template"].as_str().unwrap()).unwrap();
    let start = std::time::Instant::now();
    let err = nested.render(&messages, true).unwrap_err();
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        matches!(
            err,
            hulu_model::Error::TemplateBudget {
                what: "instructions",
                ..
            }
        ),
        "{err}"
    );
    // Output that grows past the cap stops there, long before memory runs out.
    let long =
        hulu_model::ChatTemplate::new("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}")
            .unwrap();
    let err = long.render(&messages, true).unwrap_err();
    assert!(
        matches!(
            err,
            hulu_model::Error::TemplateBudget {
                what: "output bytes",
                ..
            }
        ),
        "{err}"
    );
    // A string that doubles without being written (memory, not output) is refused before it
    // ever runs, in a loop or through a macro.
    for source in [
        "{% set ns = namespace(x='ab') %}{% for i in range(64) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
        "{% set s = 'ab' %}{% for i in range(64) %}{% set s = [s, s] | join %}{% endfor %}{{ s | length }}",
        "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('x', 64) | length }}",
    ] {
        let err = hulu_model::ChatTemplate::new(source).unwrap_err();
        assert!(
            matches!(err, hulu_model::Error::TemplateRefused { .. }),
            "{source}: {err}"
        );
    }
    // The real templates still render.
    for dir in hulu_testkit::models() {
        let t = hulu_model::ChatTemplate::from_dir(&dir).unwrap();
        assert!(t.render(&messages, true).unwrap().contains("hi"));
    }
}
