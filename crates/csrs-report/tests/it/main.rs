//! Reports through the library: the paired comparison of two runs, and
//! the metrics of a --target-radius run, which are bounds away from it.

mod bounds;
mod compare;
