//! `hulu parity [ROOT]`: replays every reference case under a fixtures root end to end and
//! compares each stage with what the reference computed.

use anyhow::{bail, Result};
use hulu_llm::LogitsFor;
use hulu_model::{GenerateOptions, HuluMed};
use hulu_testkit::replay::case_turns;
use hulu_testkit::{Closeness, Tolerance};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).unwrap_or_default()
}

/// Runs every case under `root`; one line per case, or with `json` one JSON array of
/// `{case, group, rel_l2, max_abs, ids_equal, ok}`. Fails when any case differs beyond the
/// fixtures' float32 tolerance or in any id.
///
/// # Errors
///
/// A root without `cases/` and `models/`, a case that cannot be run, or any mismatch.
pub fn run(root: &Path, json: bool) -> Result<()> {
    let mut rows = Vec::new();
    if !root.join("cases").is_dir() || !root.join("models").is_dir() {
        bail!("{} has no cases/ and models/ folders", root.display());
    }
    let mut models: BTreeMap<PathBuf, HuluMed> = BTreeMap::new();
    let mut failures = 0;
    let cases = hulu_testkit::cases_under(root);
    for case in &cases {
        if !models.contains_key(&case.model_dir) {
            let model = HuluMed::from_pretrained(&case.model_dir, Device::Cpu, Kind::Float)?;
            models.insert(case.model_dir.clone(), model);
        }
        let model = &models[&case.model_dir];
        let want = case.tensors();
        let (turns, options) = case_turns(&case.spec(), root)?;
        let prepared = model.prepare(&turns, &options)?;
        let mut worst = Closeness {
            rel_l2: 0.0,
            max_abs: 0.0,
        };
        let mut track = |got: &Tensor, name: &str| {
            let c = Closeness::measure(&values(got), &want.get(name).f32());
            worst.rel_l2 = worst.rel_l2.max(c.rel_l2);
            worst.max_abs = worst.max_abs.max(c.max_abs);
        };
        if let Some(mm) = &prepared.mm_features {
            track(mm, "mm_features");
        }
        track(&prepared.inputs_embeds, "inputs_embeds");
        let out = tch::no_grad(|| {
            model
                .decoder()
                .forward(&prepared.inputs_embeds.unsqueeze(0), LogitsFor::Last)
        })?;
        track(&out.hidden, "final_hidden");
        if let Some(logits) = &out.logits {
            track(logits, "logits_last");
        }
        let greedy = want.get("greedy_ids").i64();
        let generation = model.generate_prepared(
            &prepared,
            &GenerateOptions {
                max_new_tokens: greedy.len(),
                suppress_eos: true,
                ..GenerateOptions::default()
            },
            |_| {},
        )?;
        let ids_equal = prepared.input_ids == want.get("input_ids").i64()
            && prepared.lm_input_ids == want.get("lm_input_ids").i64()
            && generation.ids == greedy;
        let ok = ids_equal && worst.within(Tolerance::F32);
        if !ok {
            failures += 1;
        }
        if json {
            rows.push(serde_json::json!({
                "case": case.name,
                "group": case.group,
                "rel_l2": worst.rel_l2,
                "max_abs": worst.max_abs,
                "ids_equal": ids_equal,
                "ok": ok,
            }));
            continue;
        }
        println!(
            "{:<28} {:<12} rel_l2 {:.2e}  max_abs {:.2e}  ids {}  {}",
            case.name,
            case.group,
            worst.rel_l2,
            worst.max_abs,
            if ids_equal { "equal" } else { "DIFFER" },
            if ok { "ok" } else { "FAIL" }
        );
    }
    if json {
        println!("{:#}", serde_json::Value::Array(rows));
    }
    if failures > 0 {
        bail!(
            "{failures} of {} cases differ from the reference",
            cases.len()
        );
    }
    if !json {
        println!("{} cases match the reference", cases.len());
    }
    Ok(())
}
