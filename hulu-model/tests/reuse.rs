//! Reuse between questions about one study: the encoder cache serves each visual's features
//! again ([`HuluMed::prepare_cached`]) and the prefix cache the decoder's keys and values of
//! the conversation so far ([`HuluMed::generate_prepared_reusing`], the [`Batcher`]'s prefix
//! cache), so a follow-up prefills only its new tokens, and answers as without them.

use hulu_model::{
    Batcher, CacheUse, EncoderCache, GenerateOptions, Generation, HuluMed, PrefixCache,
    PrepareOptions, RowEvent, Turn,
};
use hulu_testkit::replay::case_turns;
use hulu_testkit::{cases, fixtures_root};
use tch::{Device, Kind};

fn options() -> GenerateOptions {
    GenerateOptions {
        max_new_tokens: 6,
        suppress_eos: true,
        ..GenerateOptions::default()
    }
}

/// For every model with a visual case: the case's conversation, then the same with the answer
/// and a follow-up question.
fn conversations(model: &HuluMed, model_dir: &std::path::Path) -> Option<(Vec<Turn>, Generation)> {
    let case = cases()
        .into_iter()
        .find(|c| c.model_dir == model_dir && c.has_visual())?;
    let (turns, _) = case_turns(&case.spec(), &fixtures_root()).unwrap();
    let first = model
        .generate(&turns, &PrepareOptions::default(), &options())
        .unwrap();
    Some((turns, first))
}

fn follow_up(turns: &[Turn], answer: &str) -> Vec<Turn> {
    let mut next = turns.to_vec();
    next.push(Turn::assistant(answer));
    next.push(Turn::user_text("Is there anything else worth noting?"));
    next
}

#[test]
fn a_follow_up_reuses_the_study_and_the_conversation() {
    let mut tried = 0;
    for model_dir in hulu_testkit::models() {
        println!("model {}", model_dir.display());
        let model = HuluMed::from_pretrained(&model_dir, Device::Cpu, Kind::Float).unwrap();
        let Some((turns, plain_first)) = conversations(&model, &model_dir) else {
            continue;
        };
        tried += 1;
        let prepare = PrepareOptions::default();
        let mut encoder = EncoderCache::new(8);
        let mut prefix = PrefixCache::new(2);

        // First question: nothing to reuse; the answer is the plain one.
        let (p1, used1) = model
            .prepare_cached(&turns, &prepare, &mut encoder)
            .unwrap();
        assert_eq!(used1.hits, 0);
        assert!(used1.misses >= 1);
        let g1 = model
            .generate_prepared_reusing(&p1, &options(), &mut prefix, |_| {})
            .unwrap();
        assert_eq!(g1.reused_tokens, 0);
        assert_eq!(g1.ids, plain_first.ids);
        assert_eq!(prefix.len(), 1);

        // The follow-up: every visual from the encoder cache, the first exchange from the
        // prefix cache, the same decoder input and answer as without either.
        let turns2 = follow_up(&turns, &g1.text);
        let (p2, used2) = model
            .prepare_cached(&turns2, &prepare, &mut encoder)
            .unwrap();
        assert_eq!(
            used2,
            CacheUse {
                hits: used1.misses,
                misses: 0
            }
        );
        let plain_p2 = model.prepare(&turns2, &prepare).unwrap();
        assert!(p2.inputs_embeds.equal(&plain_p2.inputs_embeds));
        let plain2 = model
            .generate_prepared(&plain_p2, &options(), |_| {})
            .unwrap();
        let g2 = model
            .generate_prepared_reusing(&p2, &options(), &mut prefix, |_| {})
            .unwrap();
        println!(
            "  follow-up: {} of {} prompt tokens reused (first prompt {})",
            g2.reused_tokens,
            p2.lm_input_ids.len(),
            p1.lm_input_ids.len()
        );
        assert!(g2.reused_tokens >= p1.lm_input_ids.len());
        assert!(g2.reused_tokens < p2.lm_input_ids.len());
        assert_eq!(g2.ids, plain2.ids);
        assert_eq!(g2.text, plain2.text);
        // The longer conversation replaced the one it extends.
        assert_eq!(prefix.len(), 1);
    }
    assert!(tried > 0, "no model has a visual case");
}

/// The server's path: requests through the [`Batcher`] with a prefix cache, one after the
/// other, the follow-up reusing the first request's conversation.
#[test]
fn the_batcher_reuses_a_finished_conversation() {
    for model_dir in hulu_testkit::models() {
        let model = HuluMed::from_pretrained(&model_dir, Device::Cpu, Kind::Float).unwrap();
        let Some((turns, plain_first)) = conversations(&model, &model_dir) else {
            continue;
        };
        let prepare = PrepareOptions::default();
        let mut batcher = Batcher::with_prefix_cache(&model, 4096, PrefixCache::new(4));
        let mut run = |turns: &[Turn]| -> Generation {
            let prepared = model.prepare(turns, &prepare).unwrap();
            batcher.admit(7, &prepared, &options()).unwrap();
            loop {
                for (_, event) in batcher.step().unwrap() {
                    if let RowEvent::Finished(g) = event {
                        return g;
                    }
                }
            }
        };
        let first = run(&turns);
        assert_eq!((first.reused_tokens, &first.ids), (0, &plain_first.ids));
        let turns2 = follow_up(&turns, &first.text);
        let second = run(&turns2);
        let plain2 = model.generate(&turns2, &prepare, &options()).unwrap();
        println!(
            "model {}: follow-up reused {} tokens",
            model_dir.display(),
            second.reused_tokens
        );
        assert!(second.reused_tokens >= first.counts.total());
        assert_eq!(second.ids, plain2.ids);
        // A request that shares nothing but the template's opening reuses only that.
        let other = run(&[Turn::user_text("Hello.")]);
        assert!(other.reused_tokens < first.counts.total());
    }
}
