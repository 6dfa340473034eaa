//! Hub ids resolved offline from a fake Hugging Face cache: the tiny model laid out as
//! `huggingface_hub` writes it (`models--org--name/refs/<rev>` holding a commit hash,
//! `snapshots/<commit>/` the files, symlinks into `blobs/`), then loaded by
//! `HuluMed::from_pretrained("org/name")`.

use hulu_model::hub::{resolve_in, ModelSource};
use hulu_model::{Device, Error, HuluMed, Kind};
use std::path::{Path, PathBuf};

const MAIN: &str = "1111111111111111111111111111111111111111";
const TAGGED: &str = "2222222222222222222222222222222222222222";

/// A cache in a fresh temp folder with `org/tiny` at two commits: `main` and the tag `v1`.
fn fake_cache(name: &str) -> PathBuf {
    let cache = std::env::temp_dir().join(format!("hulu-hub-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let repo = cache.join("models--org--tiny");
    let blobs = repo.join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let tiny = hulu_testkit::fixtures_root().join("models/tiny-qwen2");
    for commit in [MAIN, TAGGED] {
        let snapshot = repo.join("snapshots").join(commit);
        std::fs::create_dir_all(&snapshot).unwrap();
        for entry in std::fs::read_dir(&tiny).unwrap() {
            let entry = entry.unwrap();
            let blob = blobs.join(entry.file_name());
            if !blob.exists() {
                std::os::unix::fs::symlink(entry.path(), &blob).unwrap();
            }
            // As the Hub cache does: snapshot files are relative links into blobs/.
            let link = Path::new("../../blobs").join(entry.file_name());
            std::os::unix::fs::symlink(link, snapshot.join(entry.file_name())).unwrap();
        }
    }
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), MAIN).unwrap();
    std::fs::write(repo.join("refs/v1"), TAGGED).unwrap();
    cache
}

#[test]
fn org_name_and_org_name_at_rev_resolve_to_their_snapshots() {
    let cache = fake_cache("resolve");
    let snapshots = cache.join("models--org--tiny/snapshots");
    assert_eq!(
        resolve_in("org/tiny", &cache).unwrap(),
        snapshots.join(MAIN)
    );
    assert_eq!(
        resolve_in("org/tiny@main", &cache).unwrap(),
        snapshots.join(MAIN)
    );
    assert_eq!(
        resolve_in("org/tiny@v1", &cache).unwrap(),
        snapshots.join(TAGGED)
    );
    // A commit hash without a ref of its own.
    assert_eq!(
        resolve_in(format!("org/tiny@{TAGGED}"), &cache).unwrap(),
        snapshots.join(TAGGED)
    );
    // A directory is taken as it is.
    let dir = snapshots.join(TAGGED);
    assert_eq!(resolve_in(&dir, &cache).unwrap(), dir);
}

#[test]
fn a_missing_model_names_where_it_looked() {
    let cache = fake_cache("missing");
    match resolve_in("org/absent", &cache) {
        Err(Error::ModelNotFound {
            model, looked_in, ..
        }) => {
            assert_eq!(model, "org/absent");
            assert!(looked_in.contains(&cache.join("models--org--absent/refs/main")));
        }
        other => panic!("{other:?}"),
    }
    let err = resolve_in("org/tiny@v2", &cache).unwrap_err().to_string();
    assert!(
        err.contains("refs/v2") && err.contains("org/tiny@v2"),
        "{err}"
    );
    let err = resolve_in("/no/such/checkpoint", &cache).unwrap_err();
    assert!(matches!(err, Error::ModelNotFound { .. }), "{err}");
    assert!(err.to_string().contains("/no/such/checkpoint"), "{err}");
    assert_eq!(
        ModelSource::parse(Path::new("/no/such/checkpoint")),
        ModelSource::Dir("/no/such/checkpoint".into())
    );
}

#[test]
fn from_pretrained_loads_a_hub_id_from_the_cache_named_by_hf_hub_cache() {
    let cache = fake_cache("load");
    // The only test of this binary that reads the environment.
    std::env::set_var("HF_HUB_CACHE", &cache);
    let model = HuluMed::from_pretrained("org/tiny@v1", Device::Cpu, Kind::Float).unwrap();
    assert_eq!(
        model.dir(),
        cache.join("models--org--tiny/snapshots").join(TAGGED)
    );
    assert_eq!(hulu_model::hub::cache_dir(), cache);
}
