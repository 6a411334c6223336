//! Persistent storage in the browser: SQLite's `opfs-sahpool` VFS (Origin Private File System
//! sync access handles), which exists only in a dedicated worker of a secure context.
//!
//! `install` registers the pool (in the OPFS directory `.chat-engine`) as SQLite's default VFS,
//! so that `chat_core::Engine::open(name)` stores `name` there. Installing again reuses the
//! pool. In-memory engines are unaffected (their pages never reach a VFS file). SQLite keeps its
//! rollback journal here: WAL needs shared memory, which this VFS does not offer, so the
//! engine's `journal_mode=WAL` request silently stays `delete` (durability is the same, readers
//! and the writer just do not overlap — and a worker runs one call at a time anyway).

use chat_core::{ChatError, ErrorCode};

/// Where the pool keeps its files, relative to the OPFS root.
pub const DIRECTORY: &str = ".chat-engine";
const VFS_NAME: &str = "chat-engine-opfs";

fn unavailable(detail: String) -> ChatError {
    ChatError::new(ErrorCode::Storage, detail)
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    /// The installed pool of this worker.
    static POOL: std::cell::RefCell<Option<sqlite_wasm_vfs::sahpool::OpfsSAHPoolUtil>> =
        const { std::cell::RefCell::new(None) };
}

#[cfg(target_arch = "wasm32")]
fn failed(e: sqlite_wasm_vfs::sahpool::OpfsSAHError) -> ChatError {
    use sqlite_wasm_vfs::sahpool::OpfsSAHError;
    match e {
        OpfsSAHError::NotSupported => unavailable(
            "OPFS sync access handles are not supported here (a dedicated worker in a secure context is needed)."
                .to_owned(),
        ),
        e => unavailable(format!("OPFS storage failed: {e}")),
    }
}

/// Makes the pool SQLite's default VFS (installing it, or taking it again after `release`).
#[cfg(target_arch = "wasm32")]
pub async fn install() -> Result<(), ChatError> {
    use sqlite_wasm_vfs::sahpool::{OpfsSAHPoolCfgBuilder, install};
    use wasm_bindgen::JsCast;

    let in_worker = js_sys::global()
        .dyn_ref::<web_sys::DedicatedWorkerGlobalScope>()
        .is_some();
    if !in_worker {
        return Err(unavailable(
            "OPFS storage is available only in a dedicated worker (in a secure context); \
             run the engine in a Worker, or use Engine.openInMemory()."
                .to_owned(),
        ));
    }
    if let Some(pool) = POOL.with(|p| p.borrow().clone()) {
        if pool.is_paused() {
            pool.resume().await.map_err(failed)?;
        }
        return Ok(());
    }
    let cfg = OpfsSAHPoolCfgBuilder::new()
        .vfs_name(VFS_NAME)
        .directory(DIRECTORY)
        .build();
    let pool = install::<sqlite_wasm_rs::WasmOsCallback>(&cfg, true)
        .await
        .map_err(failed)?;
    POOL.with(|p| *p.borrow_mut() = Some(pool));
    Ok(())
}

/// Lets go of the OPFS files (their sync access handles) so that another worker or tab can open
/// them; every engine on OPFS in this worker must be closed first. `install` takes them again.
#[cfg(target_arch = "wasm32")]
pub fn release() -> Result<(), ChatError> {
    match POOL.with(|p| p.borrow().clone()) {
        Some(pool) => pool.pause().map_err(failed),
        None => Ok(()),
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub async fn install() -> Result<(), ChatError> {
    let _ = (DIRECTORY, VFS_NAME);
    Err(unavailable(
        "OPFS storage exists only in WebAssembly, in a dedicated worker.".to_owned(),
    ))
}

#[cfg(not(target_arch = "wasm32"))]
pub fn release() -> Result<(), ChatError> {
    Ok(())
}
