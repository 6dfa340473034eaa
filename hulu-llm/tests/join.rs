//! Rows joining and leaving a running batch ([`BatchCache`]): each row decodes the same logits
//! and tokens it decodes alone, whether it joined shorter than the batch, longer than it (every
//! other row's padding widens), or stayed while others left.

mod common;

use common::{decoder, device, i64_tensor, values};
use hulu_llm::{BatchCache, CausalDecoder, KvCache, LogitsFor};
use hulu_testkit::{assert_close, cases, models, Tolerance};
use tch::{Kind, Tensor};

const SAME: Tolerance = Tolerance {
    rel_l2: 1e-5,
    max_abs: 1e-4,
};

/// Three prompts cut from a model's text-only case: 31 tokens, 9 tokens and the whole case.
fn prompts(model_dir: &std::path::Path) -> Vec<Tensor> {
    let case = cases()
        .into_iter()
        .find(|c| c.model_dir == model_dir && !c.has_visual())
        .expect("a text-only case for every model");
    let ids = i64_tensor(&case.tensors().get("lm_input_ids"));
    let len = ids.size()[0];
    vec![
        ids.narrow(0, 10, 31),
        ids.narrow(0, 40, 9),
        ids.narrow(0, 0, len),
    ]
}

/// The greedy id of each row of `[B, V]` logits (or of one `[V]` row).
fn argmax(logits: &Tensor) -> Vec<i64> {
    let vocab = *logits.size().last().unwrap();
    let rows = logits.reshape([-1, vocab]).argmax(-1, false);
    Vec::<i64>::try_from(&rows.to_device(tch::Device::Cpu)).unwrap()
}

/// A one-row cache prefilled with `prompt`, and its first greedy token and logits.
fn prefill(dec: &dyn CausalDecoder, prompt: &Tensor, capacity: usize) -> (KvCache, i64, Tensor) {
    let mut cache = dec.new_cache(1, capacity).unwrap();
    let out = dec
        .prefill(
            &dec.embed(&prompt.unsqueeze(0)).unwrap(),
            &mut cache,
            LogitsFor::Last,
        )
        .unwrap();
    let logits = out.logits.unwrap().reshape([1, -1]);
    (cache, argmax(&logits)[0], logits.get(0))
}

/// The greedy logits of `steps` tokens for `prompt` decoded alone.
fn alone(dec: &dyn CausalDecoder, prompt: &Tensor, steps: usize) -> Vec<Tensor> {
    let (mut cache, mut next, first) = prefill(dec, prompt, prompt.size()[0] as usize + steps);
    let mut out = vec![first];
    while out.len() < steps {
        let logits = dec
            .decode_step(&Tensor::from_slice(&[next]).to_device(device()), &mut cache)
            .unwrap();
        next = argmax(&logits)[0];
        out.push(logits.get(0));
    }
    out
}

#[test]
fn rows_joining_and_leaving_decode_as_alone() {
    for model in models() {
        println!("{}", model.display());
        let dec = decoder(&model, Kind::Float);
        let prompts = prompts(&model);
        let capacity = prompts[2].size()[0] as usize + 32;

        // Per prompt: the logits of every step it was decoded in the running batch.
        let mut got: Vec<Vec<Tensor>> = (0..3).map(|_| Vec::new()).collect();
        // The batch's rows, by prompt index, and the token each feeds next.
        let mut rows: Vec<usize> = Vec::new();
        let mut next: Vec<i64> = Vec::new();

        let (mut batch, token, logits) = prefill(dec.as_ref(), &prompts[0], capacity);
        rows.push(0);
        next.push(token);
        got[0].push(logits);
        let dec = dec.as_ref();
        let step = |batch: &mut KvCache,
                    rows: &[usize],
                    next: &mut Vec<i64>,
                    got: &mut Vec<Vec<Tensor>>,
                    n: usize| {
            for _ in 0..n {
                let ids = Tensor::from_slice(next.as_slice()).to_device(device());
                let logits = dec.decode_step(&ids, batch).unwrap();
                *next = argmax(&logits);
                for (b, &p) in rows.iter().enumerate() {
                    got[p].push(logits.get(b as i64));
                }
            }
        };
        step(&mut batch, &rows, &mut next, &mut got, 2);

        // A shorter prompt joins: it is padded to the batch.
        let (cache, token, logits) = prefill(dec, &prompts[1], capacity);
        assert_eq!(batch.join(cache).unwrap(), 1);
        assert_eq!(batch.rows(), 2);
        assert_eq!(batch.row_len(1), Some(9));
        rows.push(1);
        next.push(token);
        got[1].push(logits);
        step(&mut batch, &rows, &mut next, &mut got, 3);

        // A longer prompt joins: the running rows' padding widens.
        let (cache, token, logits) = prefill(dec, &prompts[2], capacity);
        let before = batch.row_len(0);
        assert_eq!(batch.join(cache).unwrap(), 2);
        assert_eq!(batch.row_len(0), before, "row 0 keeps its tokens");
        assert_eq!(batch.pads()[2], 0);
        rows.push(2);
        next.push(token);
        got[2].push(logits);
        step(&mut batch, &rows, &mut next, &mut got, 3);

        // The first row leaves; then the longest, so the last one's padding is dropped.
        batch.leave(0).unwrap();
        rows.remove(0);
        next.remove(0);
        step(&mut batch, &rows, &mut next, &mut got, 2);
        let len_before = batch.len();
        batch.leave(1).unwrap();
        rows.remove(1);
        next.remove(1);
        assert_eq!(batch.pads(), [0], "columns of padding only are dropped");
        assert!(batch.len() < len_before);
        step(&mut batch, &rows, &mut next, &mut got, 2);

        for (p, logits) in got.iter().enumerate() {
            let reference = alone(dec, &prompts[p], logits.len());
            for (s, (a, b)) in logits.iter().zip(&reference).enumerate() {
                assert_close(
                    &format!("prompt {p} step {s}"),
                    &values(a),
                    &values(b),
                    SAME,
                );
                assert_eq!(argmax(a), argmax(b), "prompt {p} step {s} token");
            }
        }
    }
}

#[test]
fn join_and_leave_refuse_what_does_not_fit() {
    let model = &models()[0];
    let dec = decoder(model, Kind::Float);
    let prompts = prompts(model);
    let (mut batch, _, _) = prefill(dec.as_ref(), &prompts[1], 12);
    let (long, _, _) = prefill(dec.as_ref(), &prompts[0], 40);
    assert!(matches!(
        batch.join(long),
        Err(hulu_llm::Error::CacheOverflow {
            needed: 31,
            capacity: 12
        })
    ));
    let empty = dec.new_cache(1, 12).unwrap();
    assert!(batch.join(empty).is_err());
    assert!(batch.leave(1).is_err());
    batch.leave(0).unwrap();
    assert_eq!(batch.rows(), 0);
    // An emptied batch takes new rows.
    let (again, _, _) = prefill(dec.as_ref(), &prompts[1], 12);
    assert_eq!(batch.join(again).unwrap(), 0);
    assert_eq!(batch.row_len(0), Some(9));
}

/// A row's first tokens copied out of a batch ([`KvCache::row_prefix`], its left padding
/// dropped) continue as a fresh prefill of the whole prompt: the reuse a follow-up question
/// about the same study relies on.
#[test]
fn a_row_prefix_continues_as_a_fresh_prefill() {
    for model in models() {
        let dec = decoder(&model, Kind::Float);
        let prompts = prompts(&model);
        let (short, long) = (&prompts[1], &prompts[2]);
        let (n_short, n_long) = (short.size()[0] as usize, long.size()[0] as usize);
        let (mut batch, _, _) = prefill(dec.as_ref(), short, n_long + 8);
        let (other, _, _) = prefill(dec.as_ref(), long, n_long + 8);
        batch.join(other).unwrap();
        assert!(batch.pads()[0] > 0, "the short row is padded in the batch");

        let keep = n_short - 3;
        let mut reused = batch.row_prefix(0, keep, n_short + 4).unwrap();
        assert_eq!(
            (reused.len(), reused.pads(), reused.capacity()),
            (keep, &[0][..], n_short + 4)
        );
        let rest = short.narrow(0, keep as i64, 3);
        let got = dec
            .prefill(
                &dec.embed(&rest.unsqueeze(0)).unwrap(),
                &mut reused,
                LogitsFor::Last,
            )
            .unwrap()
            .logits
            .unwrap()
            .reshape([1, -1]);
        let (_, _, want) = prefill(dec.as_ref(), short, n_short + 4);
        assert_close(
            "continued prefix",
            &values(&got.get(0)),
            &values(&want),
            SAME,
        );

        assert!(
            batch.row_prefix(0, n_short + 1, n_long).is_err(),
            "more than the row holds"
        );
        assert!(batch.row_prefix(2, 1, 4).is_err(), "no such row");
        assert!(
            batch.row_prefix(1, 8, 4).is_err(),
            "capacity below the length"
        );
    }
}
