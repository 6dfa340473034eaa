//! Embeds the libtorch library folders as an rpath (see `hulu-build`), so the extension loads
//! the same `libtorch_cpu.so` as the `torch` package of the venv.

fn main() {
    hulu_build::link_libtorch_rpath();
}
