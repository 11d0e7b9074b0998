//! Tests of BGP interop with real daemons (root): one test binary, a module per concern.

mod full_table;
mod interop;
