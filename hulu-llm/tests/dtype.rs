//! Reduced precision: bf16 and f16 decoders run and stay close to the float32 reference.

mod common;

use common::{decoder, f32_tensor, values};
use hulu_llm::LogitsFor;
use hulu_testkit::{assert_close, cases, Tolerance};
use tch::Kind;

/// bf16 keeps 8 significant bits: a two-layer decoder lands within a few percent.
const BF16: Tolerance = Tolerance {
    rel_l2: 3e-2,
    max_abs: 0.3,
};
/// f16 keeps 11 bits.
const F16: Tolerance = Tolerance {
    rel_l2: 5e-3,
    max_abs: 0.05,
};

fn check(kind: Kind, tol: Tolerance) {
    for case in cases().iter().filter(|c| !c.has_visual()) {
        println!("{} in {kind:?}", case.label());
        let dec = decoder(&case.model_dir, kind);
        let t = case.tensors();
        let embeds = f32_tensor(&t.get("inputs_embeds")).unsqueeze(0);
        let out = dec.forward(&embeds, LogitsFor::Last).unwrap();
        assert_eq!(out.hidden.kind(), kind);
        let logits = out.logits.unwrap();
        assert_eq!(logits.kind(), Kind::Float, "logits are always float32");
        assert_close(
            "final_hidden",
            &values(&out.hidden),
            &t.get("final_hidden").f32(),
            tol,
        );
        assert_close(
            "logits_last",
            &values(&logits),
            &t.get("logits_last").f32(),
            tol,
        );
        // The cache path in reduced precision as well.
        let mut cache = dec.new_cache(1, embeds.size()[1] as usize + 1).unwrap();
        assert_eq!(cache.kind(), kind);
        dec.prefill(&embeds, &mut cache, LogitsFor::None).unwrap();
        let next = logits.argmax(-1, false);
        let step = dec_step_values(dec.as_ref(), &next, &mut cache);
        assert!(step.iter().all(|v| v.is_finite()));
    }
}

fn dec_step_values(
    dec: &dyn hulu_llm::CausalDecoder,
    next: &tch::Tensor,
    cache: &mut hulu_llm::KvCache,
) -> Vec<f32> {
    values(&dec.decode_step(next, cache).unwrap())
}

#[test]
fn bf16_is_close_to_f32() {
    check(Kind::BFloat16, BF16);
}

#[test]
fn f16_is_close_to_f32() {
    check(Kind::Half, F16);
}
