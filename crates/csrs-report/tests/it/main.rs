//! Reports through the library: the paired comparison of two runs.

mod compare;
