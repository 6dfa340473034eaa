//! Sampling: seeded reproducibility, filters that never let an excluded token through,
//! temperature → 0 as greedy, `transformers` repetition-penalty semantics.

use hulu_model::sampling::{
    apply_repetition_penalty, candidate_distribution, greedy, Sampler, SamplingOptions,
};
use hulu_model::Error;
use proptest::prelude::*;

/// Softmax of `logits / t` in f64, as an independent reference for the filters.
fn probabilities(logits: &[f32], t: f32) -> Vec<f64> {
    let scaled: Vec<f64> = logits.iter().map(|&x| (x / t) as f64).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scaled.iter().map(|x| (x - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

fn logits_strategy() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-10.0f32..10.0, 2..64)
}

fn options_strategy() -> impl Strategy<Value = SamplingOptions> {
    (
        0.2f32..2.0,
        0usize..10,
        0.05f32..=1.0,
        0.0f32..0.9,
        any::<u64>(),
    )
        .prop_map(|(temperature, top_k, top_p, min_p, seed)| SamplingOptions {
            do_sample: true,
            temperature,
            top_k,
            top_p,
            min_p,
            repetition_penalty: 1.0,
            seed,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn seeded_runs_repeat(logits in logits_strategy(), options in options_strategy()) {
        let mut a = Sampler::new(options.clone()).unwrap();
        let mut b = Sampler::new(options).unwrap();
        let run_a: Vec<u32> = (0..20).map(|_| a.sample(&logits, &[]).unwrap()).collect();
        let run_b: Vec<u32> = (0..20).map(|_| b.sample(&logits, &[]).unwrap()).collect();
        prop_assert_eq!(run_a, run_b);
    }

    #[test]
    fn filters_never_emit_an_excluded_token(
        logits in logits_strategy(),
        options in options_strategy(),
    ) {
        let probs = probabilities(&logits, options.temperature);
        let max_prob = probs.iter().copied().fold(0.0, f64::max);
        let kth = {
            let mut sorted = logits.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            (options.top_k > 0 && options.top_k < logits.len()).then(|| sorted[options.top_k - 1])
        };
        let allowed = candidate_distribution(&logits, &[], &options).unwrap();
        let total: f64 = allowed.iter().map(|c| c.1).sum();
        prop_assert!((total - 1.0).abs() < 1e-9);

        let mut sampler = Sampler::new(options.clone()).unwrap();
        for _ in 0..20 {
            let id = sampler.sample(&logits, &[]).unwrap() as usize;
            prop_assert!(allowed.iter().any(|c| c.0 as usize == id));
            if let Some(kth) = kth {
                prop_assert!(logits[id] >= kth, "top-k let {} through", id);
            }
            // Top-p: the tokens strictly more likely than the pick hold less than top_p.
            let above: f64 = probs.iter().filter(|&&p| p > probs[id]).sum();
            prop_assert!(above < options.top_p as f64 + 1e-9, "top-p let {} through", id);
            // Min-p: the pick is at least min_p times as likely as the best token.
            prop_assert!(probs[id] >= options.min_p as f64 * max_prob - 1e-12, "min-p let {} through", id);
        }
    }

    #[test]
    fn temperature_to_zero_is_greedy(
        logits in logits_strategy(),
        seed in any::<u64>(),
        best in any::<prop::sample::Index>(),
    ) {
        // A unique best logit, at least 0.5 above the rest.
        let mut logits = logits;
        let best = best.index(logits.len());
        let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        logits[best] = top + 0.5;
        let greedy_id = greedy(&logits).unwrap();
        prop_assert_eq!(greedy_id as usize, best);
        for temperature in [0.0, 1e-3] {
            let mut sampler = Sampler::new(SamplingOptions::sampled(temperature, seed)).unwrap();
            for _ in 0..10 {
                prop_assert_eq!(sampler.sample(&logits, &[]).unwrap(), greedy_id);
            }
        }
    }
}

#[test]
fn draws_follow_the_distribution() {
    // p = [0.25, 0.75]; 4000 seeded draws land within a few standard deviations (0.007).
    let logits = [0.0f32, 3f32.ln()];
    let mut sampler = Sampler::new(SamplingOptions::sampled(1.0, 7)).unwrap();
    let ones = (0..4000)
        .filter(|_| sampler.sample(&logits, &[]).unwrap() == 1)
        .count();
    let freq = ones as f64 / 4000.0;
    assert!((freq - 0.75).abs() < 0.03, "frequency {freq}");
}

#[test]
fn different_seeds_give_different_streams() {
    let logits = vec![0.0f32; 1000];
    let run = |seed| {
        let mut s = Sampler::new(SamplingOptions::sampled(1.0, seed)).unwrap();
        (0..10)
            .map(|_| s.sample(&logits, &[]).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn repetition_penalty_divides_positive_and_multiplies_negative_once() {
    let mut logits = vec![2.0f32, -2.0, 1.0, 4.0];
    apply_repetition_penalty(&mut logits, &[0, 1, 1, 0], 2.0).unwrap();
    assert_eq!(logits, [1.0, -4.0, 1.0, 4.0]);
    // Greedy decoding applies it too: token 0 (3.0 → 1.5) loses to token 2 (2.0).
    let options = SamplingOptions {
        repetition_penalty: 2.0,
        ..SamplingOptions::greedy()
    };
    let mut sampler = Sampler::new(options).unwrap();
    assert_eq!(sampler.sample(&[3.0, 0.0, 2.0], &[0]).unwrap(), 2);
    assert_eq!(sampler.sample(&[3.0, 0.0, 2.0], &[]).unwrap(), 0);
    assert!(matches!(
        apply_repetition_penalty(&mut logits, &[4], 1.5),
        Err(Error::InvalidLogits(_))
    ));
}

#[test]
fn top_k_keeps_ties_like_transformers() {
    let options = SamplingOptions {
        top_k: 2,
        ..SamplingOptions::sampled(1.0, 0)
    };
    let kept = candidate_distribution(&[1.0, 3.0, 1.0, 3.0, 3.0, 0.0], &[], &options).unwrap();
    let ids: Vec<u32> = kept.iter().map(|c| c.0).collect();
    assert_eq!(ids, [1, 3, 4]);
}

#[test]
fn generation_config_defaults_are_read() {
    for dir in hulu_testkit::models() {
        println!("{}", dir.display());
        let config =
            hulu_model::GenerationConfig::from_file(dir.join("generation_config.json")).unwrap();
        let options = SamplingOptions::from_generation_config(&config, 3);
        assert_eq!(options.do_sample, config.do_sample.unwrap_or(false));
        assert_eq!(options.top_k, config.top_k.unwrap_or(50));
        Sampler::new(options).unwrap();
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let mut sampler = Sampler::new(SamplingOptions::sampled(1.0, 0)).unwrap();
    for bad in [
        &[][..],
        &[f32::NAN, 1.0],
        &[f32::INFINITY],
        &[f32::NEG_INFINITY; 3],
    ] {
        assert!(
            matches!(sampler.sample(bad, &[]), Err(Error::InvalidLogits(_))),
            "{bad:?}"
        );
    }
    for options in [
        SamplingOptions {
            top_p: 0.0,
            ..SamplingOptions::sampled(1.0, 0)
        },
        SamplingOptions {
            min_p: 1.5,
            ..SamplingOptions::sampled(1.0, 0)
        },
        SamplingOptions {
            repetition_penalty: 0.0,
            ..SamplingOptions::sampled(1.0, 0)
        },
        SamplingOptions::sampled(-1.0, 0),
    ] {
        assert!(matches!(
            Sampler::new(options),
            Err(Error::InvalidSampling(_))
        ));
    }
}

#[test]
fn masked_logits_are_never_picked() {
    let mut logits = vec![f32::NEG_INFINITY; 50];
    logits[17] = -3.0;
    logits[31] = -2.5;
    let mut sampler = Sampler::new(SamplingOptions::sampled(1.5, 11)).unwrap();
    for _ in 0..200 {
        let id = sampler.sample(&logits, &[]).unwrap();
        assert!(id == 17 || id == 31);
    }
}

#[test]
fn tensor_logits_sample_like_slices() {
    let logits: Vec<f32> = (0..100).map(|i| ((i * 37) % 17) as f32 * 0.3).collect();
    let tensor = tch::Tensor::from_slice(&logits);
    let options = SamplingOptions {
        top_k: 10,
        top_p: 0.9,
        ..SamplingOptions::sampled(0.8, 5)
    };
    let mut a = Sampler::new(options.clone()).unwrap();
    let mut b = Sampler::new(options).unwrap();
    for _ in 0..10 {
        assert_eq!(
            a.sample_tensor(&tensor, &[1, 2]).unwrap(),
            b.sample(&logits, &[1, 2]).unwrap()
        );
    }
    let two_d = tensor.view([10, 10]);
    assert!(matches!(
        a.sample_tensor(&two_d, &[]),
        Err(Error::Tensor(_))
    ));
}
