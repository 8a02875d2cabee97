//! Records through the library: written, resumed, read back and merged as
//! the `csrs` command does.

mod records;
