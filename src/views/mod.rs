//! Text views for people reading at a terminal: the catalog (`capsim list`), a deployment's
//! step-time curve (`capsim curve`) and what an experiment's endpoint is made of
//! (`capsim explain`).
//!
//! They read domain and experiment types directly, which is why they are not in
//! [`crate::report`]: the report layer sees only summary rows.

pub mod capacity;
pub mod catalog;
pub mod explain;
