//! A spin lock with an RAII guard over NDIS_SPIN_LOCK.
//!
//! On Windows it is NdisAcquireSpinLock / NdisReleaseSpinLock (raises to
//! DISPATCH_LEVEL, restores on release); in the simulated NDIS the same
//! functions spin on an atomic word, a real lock. The datapath takes it
//! once per NBL chain, never per packet, and never blocks under it.

use crate::ffi::api;
use crate::ffi::types::{EXECUTIVE, KERNEL_MODE, KMUTEX, NDIS_SPIN_LOCK};
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

/// Data guarded by an NDIS spin lock. Must not move after [`SpinLock::new`]
/// has been called on its final home: keep it inside a `Box`/`Arc`.
pub struct SpinLock<T> {
    lock: UnsafeCell<NDIS_SPIN_LOCK>,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by the lock; T: Send is enough for a
// mutex-like type.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves ownership of T; the lock word is plain data.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> core::fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SpinLock")
    }
}

impl<T> SpinLock<T> {
    /// A lock around `data`. NDIS_SPIN_LOCK initialisation is zeroing
    /// (KeInitializeSpinLock), which this does; NdisAllocateSpinLock is not
    /// needed for a lock that never moves afterwards.
    pub const fn new(data: T) -> Self {
        Self {
            lock: UnsafeCell::new(NDIS_SPIN_LOCK {
                SpinLock: 0,
                OldIrql: 0,
            }),
            data: UnsafeCell::new(data),
        }
    }

    /// Acquire the lock (raises to DISPATCH_LEVEL on Windows).
    pub fn lock(&self) -> SpinGuard<'_, T> {
        // SAFETY: the lock word lives as long as `self` and is only touched
        // by the acquire/release pair, which NDIS serialises.
        unsafe { api::NdisAcquireSpinLock(self.lock.get()) };
        SpinGuard { owner: self }
    }

    /// Mutable access without locking: `&mut self` proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

/// Holds the lock; releases it when dropped.
#[derive(Debug)]
pub struct SpinGuard<'a, T> {
    owner: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the lock is held.
        unsafe { &*self.owner.data.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while the lock is held, and `&mut
        // self` makes this the only reference through the guard.
        unsafe { &mut *self.owner.data.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard acquired the lock in `SpinLock::lock`.
        unsafe { api::NdisReleaseSpinLock(self.owner.lock.get()) };
    }
}

/// A PASSIVE_LEVEL mutex (KMUTEX) with an RAII guard: for work that takes
/// long or allocates a lot (the control plane), which must not run at
/// DISPATCH_LEVEL under a spin lock. Never taken on the datapath. Must not
/// move after [`PassiveMutex::init`]: keep it inside a `Box`.
pub struct PassiveMutex<T> {
    mutex: UnsafeCell<KMUTEX>,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by the mutex.
unsafe impl<T: Send> Sync for PassiveMutex<T> {}
// SAFETY: moving the mutex moves ownership of T.
unsafe impl<T: Send> Send for PassiveMutex<T> {}

impl<T> core::fmt::Debug for PassiveMutex<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PassiveMutex")
    }
}

impl<T> PassiveMutex<T> {
    /// A mutex around `data`; call [`PassiveMutex::init`] once it is in
    /// its final place.
    pub const fn new(data: T) -> Self {
        Self {
            mutex: UnsafeCell::new(KMUTEX { Opaque: [0; 7] }),
            data: UnsafeCell::new(data),
        }
    }

    /// KeInitializeMutex, at its final address.
    pub fn init(&self) {
        // SAFETY: the storage lives as long as `self` and is not yet used.
        unsafe { api::KeInitializeMutex(self.mutex.get(), 0) };
    }

    /// Wait for the mutex (PASSIVE_LEVEL only).
    pub fn lock(&self) -> PassiveGuard<'_, T> {
        // SAFETY: an initialised KMUTEX; a NULL timeout waits until owned.
        unsafe {
            api::KeWaitForSingleObject(
                self.mutex.get().cast(),
                EXECUTIVE,
                KERNEL_MODE,
                0,
                core::ptr::null_mut(),
            )
        };
        PassiveGuard { owner: self }
    }
}

/// Owns the mutex; releases it when dropped.
#[derive(Debug)]
pub struct PassiveGuard<'a, T> {
    owner: &'a PassiveMutex<T>,
}

impl<T> Deref for PassiveGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the mutex is owned.
        unsafe { &*self.owner.data.get() }
    }
}

impl<T> DerefMut for PassiveGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: owned mutex, and `&mut self` is the only path to the data.
        unsafe { &mut *self.owner.data.get() }
    }
}

impl<T> Drop for PassiveGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard owns the mutex (acquired in `lock`).
        unsafe { api::KeReleaseMutex(self.owner.mutex.get(), 0) };
    }
}
