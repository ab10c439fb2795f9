//! The hub: the per-thread (or per-task) entry point that pairs a client with
//! a stack of scopes.
//!
//! Each thread has its own hub, created on first use from the main hub's top
//! scope. Unlike the official Rust SDK, a hub does not freeze the client it
//! saw when it was created: unless a client was bound to it explicitly, it
//! uses whichever client [`crate::init`] installed most recently. So a thread
//! or task started before `init` still reports.

use std::cell::{OnceCell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use parking_lot::{Mutex, ReentrantMutex, RwLock};
use uuid::Uuid;

use crate::client::Client;
use crate::protocol::{Breadcrumb, Event, Level};
use crate::scope::{Scope, ScopeSnapshot};
use crate::unique_arc::UniqueArc;

/// The client installed by `init`, seen by every hub that did not bind its own.
static GLOBAL_CLIENT: ArcSwapOption<Client> = ArcSwapOption::const_empty();

/// Bumped (after the store) whenever [`GLOBAL_CLIENT`] changes, so a thread
/// can tell whether the client it cached is still the global one.
static GLOBAL_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Becomes true once any client was ever installed or bound. Until then
/// every API call returns at once: this is the "no client" fast path.
static ANY_CLIENT: AtomicBool = AtomicBool::new(false);

/// Stands in for a scope taken out by `configure_scope` (shared, so taking
/// one out allocates nothing).
/// How long configuring, pushing or popping a scope waits for another
/// thread's [`Hub::configure_scope`] closure on the same hub before going on
/// without it: long enough for any closure that only sets values, short
/// enough that a closure waiting for such a thread stalls, not hangs.
pub const CONFIGURE_WAIT: Duration = Duration::from_secs(1);

static MAIN_HUB: LazyLock<Arc<Hub>> =
    LazyLock::new(|| Arc::new(Hub::new_inheriting(Scope::default())));

/// A thread's hubs: its own (made on first use, never replaced, so it can be
/// lent out without touching its reference count) and those installed by
/// [`Hub::run`] and [`Hub::switch`], innermost last, each with the token
/// that removes it.
struct ThreadHubs {
    own: OnceCell<Arc<Hub>>,
    run: RefCell<Vec<(u64, Arc<Hub>)>>,
}

/// Tokens of installed hubs, unique in the process: a [`HubSwitchGuard`]
/// dropped on another thread than its own finds nothing to remove there.
static SWITCH_TOKEN: AtomicU64 = AtomicU64::new(0);

/// Installs `hub` as this thread's current hub; the token removes it.
fn install(hub: Arc<Hub>) -> u64 {
    let token = SWITCH_TOKEN.fetch_add(1, Ordering::Relaxed);
    // `try_with`: a thread-local destructor that runs a hub finds this
    // thread's storage gone; the code then runs with the fallback hub of
    // [`Hub::with_current`] rather than panicking.
    let _ = THREAD_HUB.try_with(|hubs| hubs.run.borrow_mut().push((token, hub)));
    token
}

/// Removes the hub installed with `token` from this thread, and with it
/// (when `inner` is true) every hub installed after it.
fn uninstall(token: u64, inner: bool) {
    // `try_with`: during thread teardown there is nothing to restore.
    let _ = THREAD_HUB.try_with(|hubs| {
        let mut run = hubs.run.borrow_mut();
        if let Some(at) = run.iter().rposition(|(t, _)| *t == token) {
            if inner {
                run.truncate(at);
            } else {
                run.remove(at);
            }
        }
    });
}

/// Keeps a hub current on its thread until dropped (see [`Hub::switch`]).
#[must_use = "the hub stops being current when the guard is dropped"]
#[derive(Debug)]
pub struct HubSwitchGuard {
    token: u64,
}

impl Drop for HubSwitchGuard {
    fn drop(&mut self) {
        uninstall(self.token, false);
    }
}

thread_local! {
    static THREAD_HUB: ThreadHubs = const {
        ThreadHubs { own: OnceCell::new(), run: RefCell::new(Vec::new()) }
    };
}

/// Whether any client has ever been bound (the fast-path check).
#[inline]
pub(crate) fn any_client() -> bool {
    ANY_CLIENT.load(Ordering::Relaxed)
}

pub(crate) fn set_global_client(client: Option<Arc<Client>>) {
    if client.is_some() {
        ANY_CLIENT.store(true, Ordering::Relaxed);
    }
    GLOBAL_CLIENT.store(client);
    GLOBAL_GENERATION.fetch_add(1, Ordering::Release);
}

/// Removes `client` as the global client if it still is.
pub(crate) fn unset_global_client(client: &Arc<Client>) {
    let current = GLOBAL_CLIENT.load();
    if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, client)) {
        GLOBAL_CLIENT.compare_and_swap(&*current, None);
        GLOBAL_GENERATION.fetch_add(1, Ordering::Release);
    }
}

thread_local! {
    /// This thread's copy of the global client and the generation it was
    /// read at. Reading it costs no atomic read-modify-write, unlike an
    /// `ArcSwap` load; a replaced client stays referenced here (closed, so
    /// inert) until this thread next asks for the global client.
    static GLOBAL_CACHE: RefCell<(u64, Option<Arc<Client>>)> = const { RefCell::new((u64::MAX, None)) };
}

/// Calls `f` with the global client, if any, without touching its
/// reference count (re-entrant: `f` may call it again). `f` may clone the
/// `Arc` (one increment, no lock).
#[inline]
fn with_global_client<R>(f: impl FnOnce(&Arc<Client>) -> R) -> Option<R> {
    let generation = GLOBAL_GENERATION.load(Ordering::Acquire);
    let mut f = Some(f);
    let cached = GLOBAL_CACHE.try_with(|cache| {
        let mut replaced = None;
        if let Ok(mut c) = cache.try_borrow_mut() {
            if c.0 != generation {
                replaced = Some(std::mem::replace(
                    &mut *c,
                    (generation, GLOBAL_CLIENT.load_full()),
                ));
            }
        }
        // The old client is dropped with no borrow held.
        drop(replaced);
        // Fails only while the cache is being refreshed further up.
        let c = cache.try_borrow().ok()?;
        if c.0 != generation {
            // Stale, and it could not be refreshed (in use further up).
            return None;
        }
        let f = f.take()?;
        Some(c.1.as_ref().map(f))
    });
    match cached {
        Ok(Some(result)) => result,
        _ => {
            let f = f?;
            Some(f(GLOBAL_CLIENT.load().as_ref()?))
        }
    }
}

#[derive(Clone)]
enum Binding {
    /// Use the global client.
    Inherit,
    /// Use this client (or none).
    Bound(Option<Arc<Client>>),
}

#[derive(Clone)]
struct Layer {
    binding: Binding,
    scope: UniqueArc<Scope>,
}

impl Layer {
    fn client(&self) -> Option<Arc<Client>> {
        match &self.binding {
            Binding::Inherit => GLOBAL_CLIENT.load_full(),
            Binding::Bound(c) => c.clone(),
        }
    }
}

/// A client plus a stack of scopes.
///
/// ```
/// use std::sync::Arc;
/// use sentry_core::{Hub, Scope};
/// let hub = Arc::new(Hub::new(None, Scope::default()));
/// Hub::run(hub.clone(), || {
///     Hub::current().configure_scope(|s| s.set_tag("in", "hub"));
/// });
/// hub.configure_scope(|s| assert_eq!(s.tags()["in"], "hub"));
/// ```
pub struct Hub {
    stack: RwLock<Vec<Layer>>,
    /// Whether the top layer uses the global client: kept in step with the
    /// stack (written under its lock) so that finding the client needs no
    /// lock in the usual case.
    inherits: AtomicBool,
    last_event_id: Mutex<Option<Uuid>>,
    /// Held by [`Hub::configure_scope`] while the top scope is out of the
    /// stack, and by pushing and popping scopes, so that two threads do not
    /// configure from the same snapshot (the second result would replace
    /// the first) and a layer is not pushed or popped under a closure.
    /// Waited for at most [`CONFIGURE_WAIT`]; re-entrant, so a closure may
    /// configure, push or pop on its own thread.
    configuring: ReentrantMutex<()>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("depth", &self.stack.read().len())
            .field("client", &self.client().is_some())
            .finish()
    }
}

impl Hub {
    /// A hub with an explicitly bound client (or explicitly none).
    pub fn new(client: Option<Arc<Client>>, scope: Scope) -> Hub {
        if client.is_some() {
            ANY_CLIENT.store(true, Ordering::Relaxed);
        }
        Hub::with_layer(Layer {
            binding: Binding::Bound(client),
            scope: UniqueArc::new(scope),
        })
    }

    fn new_inheriting(scope: Scope) -> Hub {
        Hub::with_layer(Layer {
            binding: Binding::Inherit,
            scope: UniqueArc::new(scope),
        })
    }

    fn with_layer(layer: Layer) -> Hub {
        Hub {
            inherits: AtomicBool::new(matches!(layer.binding, Binding::Inherit)),
            stack: RwLock::new(vec![layer]),
            last_event_id: Mutex::new(None),
            configuring: ReentrantMutex::new(()),
        }
    }

    /// A new hub that starts from `other`'s top scope and client binding;
    /// `other` may be a `&Hub` or an `Arc<Hub>` (`Hub::new_from_top(Hub::current())`).
    pub fn new_from_top<H: AsRef<Hub>>(other: H) -> Hub {
        let top = other.as_ref().top();
        Hub::with_layer(top)
    }

    fn top(&self) -> Layer {
        let stack = self.stack.read();
        // The stack is never empty: the base layer cannot be popped.
        stack.last().cloned().unwrap_or(Layer {
            binding: Binding::Inherit,
            scope: UniqueArc::default(),
        })
    }

    /// The process-wide main hub (used directly by the thread named `main`).
    pub fn main() -> Arc<Hub> {
        MAIN_HUB.clone()
    }

    /// The hub of the current thread (or the one [`Hub::run`] installed).
    pub fn current() -> Arc<Hub> {
        Hub::with_current(Arc::clone)
    }

    /// Calls `f` with the current hub.
    ///
    /// Called from a thread-local destructor after this thread's own
    /// storage is gone, `f` gets a new hub with the main hub's scope and
    /// client: the SDK never panics (a panic there aborts the process). Each
    /// such call gets a hub of its own, so a scope change does not carry to
    /// the next call, and [`Hub::run`] there has no effect.
    pub fn with_current<R>(f: impl FnOnce(&Arc<Hub>) -> R) -> R {
        if THREAD_HUB.try_with(|_| ()).is_err() {
            return f(&Arc::new(Hub::new_from_top(&**MAIN_HUB)));
        }
        THREAD_HUB.with(|hubs| {
            // Inside `Hub::run` the installed hub is cloned: `f` may itself
            // call `run` and change the list while it holds the reference.
            let installed = hubs.run.borrow().last().map(|(_, hub)| hub.clone());
            match installed {
                Some(hub) => f(&hub),
                None => f(hubs.own.get_or_init(|| {
                    if std::thread::current().name() == Some("main") {
                        Hub::main()
                    } else {
                        Arc::new(Hub::new_from_top(&**MAIN_HUB))
                    }
                })),
            }
        })
    }

    /// Runs `f` with `hub` as the current hub of this thread, restoring the
    /// previous one afterwards (also when `f` panics). Hubs switched to
    /// inside `f` and still current when it returns end with it.
    pub fn run<R>(hub: Arc<Hub>, f: impl FnOnce() -> R) -> R {
        struct Restore(u64);
        impl Drop for Restore {
            fn drop(&mut self) {
                uninstall(self.0, true);
            }
        }
        let _restore = Restore(install(hub));
        f()
    }

    /// Makes `hub` the current hub of this thread until the guard is
    /// dropped, for code that cannot wrap the work in a closure (a
    /// `tracing` span's enter and exit). Guards may be dropped in any order;
    /// each removes only its own hub. Drop it on the thread that made it: on
    /// another thread it does nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sentry_core::{Hub, Scope};
    /// let hub = Arc::new(Hub::new(None, Scope::default()));
    /// let guard = Hub::switch(hub.clone());
    /// assert!(Arc::ptr_eq(&Hub::current(), &hub));
    /// drop(guard);
    /// assert!(!Arc::ptr_eq(&Hub::current(), &hub));
    /// ```
    pub fn switch(hub: Arc<Hub>) -> HubSwitchGuard {
        HubSwitchGuard {
            token: install(hub),
        }
    }

    /// The client in effect for this hub.
    pub fn client(&self) -> Option<Arc<Client>> {
        if self.inherits.load(Ordering::Acquire) {
            // From the thread's cache of the global client: no lock, no
            // `ArcSwap` load (every transaction start asks).
            return with_global_client(Arc::clone);
        }
        self.stack.read().last().and_then(Layer::client)
    }

    /// Binds a client to the top layer (`None` disables capturing there).
    pub fn bind_client(&self, client: Option<Arc<Client>>) {
        if client.is_some() {
            ANY_CLIENT.store(true, Ordering::Relaxed);
        }
        let mut stack = self.stack.write();
        if let Some(top) = stack.last_mut() {
            top.binding = Binding::Bound(client);
        }
        self.sync_inherits(&stack);
    }

    /// A snapshot of the top scope. (Not an `Arc<Scope>`: a hub's scopes
    /// are never reachable through a `Weak`, which lets a breadcrumb be
    /// added without `Arc::make_mut`'s atomics; see `unique_arc.rs`.)
    pub fn top_scope(&self) -> ScopeSnapshot {
        ScopeSnapshot(
            self.stack
                .read()
                .last()
                .map(|l| l.scope.clone())
                .unwrap_or_default(),
        )
    }

    /// Changes the top scope.
    ///
    /// `f` works on a copy of the scope (its parts are shared, so copying
    /// it copies pointers) that replaces the scope when `f` returns; the
    /// stack's lock is not held during user code (which may call back into
    /// the hub), and whatever reads the scope meanwhile (an event captured
    /// inside `f`, another thread sharing the hub) sees it as it was.
    /// Breadcrumbs added to the hub meanwhile are kept, and so is what `f`
    /// changed before it panicked, if it does. Other threads configuring, pushing or popping
    /// on the same hub wait for `f` for up to [`CONFIGURE_WAIT`], then go
    /// on without waiting (so a closure that waits for such a thread cannot
    /// hang both; one of the two changes may then be lost).
    ///
    /// ```
    /// use sentry_core::{Hub, Scope};
    /// let hub = Hub::new(None, Scope::default());
    /// hub.configure_scope(|s| s.set_tag("region", "eu"));
    /// let seen = hub.configure_scope(|s| {
    ///     s.set_tag("tier", "free");
    ///     // The hub still shows the scope as it was before this closure.
    ///     hub.top_scope().tags().get("tier").cloned()
    /// });
    /// assert_eq!(seen, None);
    /// assert_eq!(hub.top_scope().tags()["tier"], "free");
    /// assert_eq!(hub.top_scope().tags()["region"], "eu");
    /// ```
    pub fn configure_scope<R>(&self, f: impl FnOnce(&mut Scope) -> R) -> R {
        struct WriteBack<'a> {
            hub: &'a Hub,
            /// The layer the copy was taken from.
            depth: usize,
            /// The copy `f` changes (`None` only until it is made).
            scope: Option<Scope>,
            /// Breadcrumbs the layer's scope had received when copied.
            mark: u64,
        }
        impl Drop for WriteBack<'_> {
            fn drop(&mut self) {
                let Some(mut scope) = self.scope.take() else {
                    return;
                };
                let mut stack = self.hub.stack.write();
                let previous = self
                    .depth
                    .checked_sub(1)
                    .and_then(|i| stack.get_mut(i))
                    .map(|layer| {
                        // Breadcrumbs added while `f` ran (a log line inside
                        // it, another thread) went on the scope the hub
                        // showed.
                        if layer.scope.breadcrumbs.pushed() != self.mark {
                            scope.append_breadcrumbs_since(&layer.scope, self.mark);
                        }
                        UniqueArc::replace(&mut layer.scope, scope)
                    });
                // What the scope held before is dropped with the lock
                // released: an event processor's captures may use the hub
                // when they are dropped.
                drop(stack);
                drop(previous);
            }
        }
        // Declared first, so it is released after the scope is put back.
        let _configuring = self.configuring.try_lock_for(CONFIGURE_WAIT);
        let mut write_back = WriteBack {
            hub: self,
            depth: 0,
            scope: None,
            mark: 0,
        };
        let copy = {
            let stack = self.stack.read();
            match stack.last() {
                Some(top) => {
                    write_back.depth = stack.len();
                    write_back.mark = top.scope.breadcrumbs.pushed();
                    Scope::clone(&top.scope)
                }
                None => Scope::default(),
            }
        };
        f(write_back.scope.insert(copy))
    }

    /// Calls `f` with the client, resolving an inherited client without
    /// touching its reference count. No scope snapshot is held, so `f` may
    /// change the scope without copying it.
    fn with_client<R>(&self, f: impl FnOnce(&Client) -> R) -> Option<R> {
        if self.inherits.load(Ordering::Acquire) {
            return with_global_client(|client| f(client));
        }
        let bound = {
            let stack = self.stack.read();
            match &stack.last()?.binding {
                Binding::Inherit => None,
                Binding::Bound(c) => Some(c.clone()?),
            }
        };
        match bound {
            Some(client) => Some(f(&client)),
            None => with_global_client(|client| f(client)),
        }
    }

    /// Records whether the top layer of `stack` (this hub's, locked for
    /// writing) inherits the global client.
    fn sync_inherits(&self, stack: &[Layer]) {
        let inherits = matches!(
            stack.last(),
            Some(Layer {
                binding: Binding::Inherit,
                ..
            })
        );
        self.inherits.store(inherits, Ordering::Release);
    }

    /// Calls `f` with the client and a snapshot of the top scope, resolving
    /// an inherited client without touching its reference count.
    pub(crate) fn with_client_and_scope<R>(
        &self,
        f: impl FnOnce(&Client, &Scope) -> R,
    ) -> Option<R> {
        let (bound, scope) = {
            let stack = self.stack.read();
            let top = stack.last()?;
            let bound = match &top.binding {
                Binding::Inherit => None,
                Binding::Bound(c) => Some(c.clone()?),
            };
            (bound, top.scope.clone())
        };
        match bound {
            Some(client) => Some(f(&client, &scope)),
            None => with_global_client(|client| f(client, &scope)),
        }
    }

    /// Pushes a copy of the top scope; the layer is popped when the guard drops.
    pub fn push_scope(self: &Arc<Self>) -> ScopeGuard {
        let _configuring = self.configuring.try_lock_for(CONFIGURE_WAIT);
        let mut stack = self.stack.write();
        let top = stack.last().cloned().unwrap_or(Layer {
            binding: Binding::Inherit,
            scope: UniqueArc::default(),
        });
        stack.push(top);
        ScopeGuard {
            hub: self.clone(),
            depth: stack.len(),
        }
    }

    /// Runs `callback` with a temporary scope configured by `configure`.
    pub fn with_scope<C, F, R>(self: &Arc<Self>, configure: C, callback: F) -> R
    where
        C: FnOnce(&mut Scope),
        F: FnOnce() -> R,
    {
        let _guard = self.push_scope();
        self.configure_scope(configure);
        Hub::run(self.clone(), callback)
    }

    /// Captures an event through the client with the top scope applied.
    pub fn capture_event(&self, event: Event) -> Uuid {
        self.capture_boxed(|| Box::new(event))
    }

    /// Builds the event only when a client is bound.
    fn capture_boxed(&self, event: impl FnOnce() -> Box<Event>) -> Uuid {
        let id = self
            .with_client_and_scope(|client, scope| client.capture_boxed(event(), Some(scope)))
            .unwrap_or_else(Uuid::nil);
        if !id.is_nil() {
            *self.last_event_id.lock() = Some(id);
        }
        id
    }

    /// Captures a message.
    pub fn capture_message(&self, message: &str, level: Level) -> Uuid {
        self.capture_boxed(|| crate::capture::boxed_event_from_message(message, level))
    }

    /// Captures an error with its `source()` chain.
    pub fn capture_error(&self, error: &(dyn std::error::Error + 'static)) -> Uuid {
        self.capture_boxed(|| Box::new(crate::capture::event_from_error(error)))
    }

    /// Adds breadcrumbs to the top scope (after `before_breadcrumb` and
    /// scrubbing). Without a client nothing is evaluated.
    pub fn add_breadcrumb<B: IntoBreadcrumbs>(&self, breadcrumb: B) {
        self.with_client(|client| {
            let max = client.options().max_breadcrumbs;
            if max == 0 {
                return;
            }
            for mut b in breadcrumb.into_breadcrumbs() {
                if client.options().before_breadcrumb.is_some() {
                    // User code runs here, outside any lock.
                    match client.prepare_breadcrumb(b) {
                        Some(prepared) => b = prepared,
                        None => continue,
                    }
                } else {
                    // Scrubbed where it lies: no copies of the breadcrumb.
                    client.scrub_breadcrumb(&mut b);
                }
                if let Some(top) = self.stack.write().last_mut() {
                    UniqueArc::make_mut(&mut top.scope).add_breadcrumb_raw(b, max);
                }
            }
        });
    }

    /// The id of the last event this hub sent.
    pub fn last_event_id(&self) -> Option<Uuid> {
        *self.last_event_id.lock()
    }
}

/// Pops the scope pushed by [`Hub::push_scope`] when dropped.
#[must_use = "the scope is popped when the guard is dropped"]
pub struct ScopeGuard {
    hub: Arc<Hub>,
    depth: usize,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        let _configuring = self.hub.configuring.try_lock_for(CONFIGURE_WAIT);
        let mut stack = self.hub.stack.write();
        let popped: Vec<Layer> = if stack.len() == self.depth && stack.len() > 1 {
            stack.pop().into_iter().collect()
        } else if stack.len() > self.depth {
            // Inner guards leaked (e.g. mem::forget): pop back to our level.
            let keep = self.depth.saturating_sub(1).max(1);
            stack.drain(keep..).collect()
        } else {
            Vec::new()
        };
        self.hub.sync_inherits(&stack);
        // Dropped with the lock released (see `configure_scope`).
        drop(stack);
        drop(popped);
    }
}

/// Things that can be added as breadcrumbs: a breadcrumb, a list, an option,
/// or a closure producing any of those (only called when a client is bound).
pub trait IntoBreadcrumbs {
    /// What the breadcrumbs come out as.
    type Output: IntoIterator<Item = Breadcrumb>;
    /// The breadcrumbs.
    fn into_breadcrumbs(self) -> Self::Output;
}

impl IntoBreadcrumbs for Breadcrumb {
    type Output = Option<Breadcrumb>;
    fn into_breadcrumbs(self) -> Option<Breadcrumb> {
        Some(self)
    }
}

impl IntoBreadcrumbs for Vec<Breadcrumb> {
    type Output = Vec<Breadcrumb>;
    fn into_breadcrumbs(self) -> Vec<Breadcrumb> {
        self
    }
}

impl IntoBreadcrumbs for Option<Breadcrumb> {
    type Output = Option<Breadcrumb>;
    fn into_breadcrumbs(self) -> Option<Breadcrumb> {
        self
    }
}

impl<F: FnOnce() -> I, I: IntoBreadcrumbs> IntoBreadcrumbs for F {
    type Output = I::Output;
    fn into_breadcrumbs(self) -> I::Output {
        self().into_breadcrumbs()
    }
}

impl AsRef<Hub> for Hub {
    fn as_ref(&self) -> &Hub {
        self
    }
}
