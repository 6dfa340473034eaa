//! Embeds the libtorch library folders as an rpath (see `hulu-build`).

fn main() {
    hulu_build::link_libtorch_rpath();
}
