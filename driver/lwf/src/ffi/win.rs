//! Windows backend of the seam: imports of ndis.sys and ntoskrnl.exe.
//!
//! Names and signatures match the simulated backend in `crate::sim::ndis`.
#![allow(non_snake_case)]

use super::types::*;
use core::ffi::c_void;

#[link(name = "ndis.sys", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    pub fn NdisFRegisterFilterDriver(
        DriverObject: *mut DRIVER_OBJECT,
        FilterDriverContext: NDIS_HANDLE,
        FilterDriverCharacteristics: *mut NDIS_FILTER_DRIVER_CHARACTERISTICS,
        NdisFilterDriverHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    pub fn NdisFDeregisterFilterDriver(NdisFilterDriverHandle: NDIS_HANDLE);
    pub fn NdisRegisterDeviceEx(
        NdisObjectHandle: NDIS_HANDLE,
        DeviceObjectAttributes: *mut NDIS_DEVICE_OBJECT_ATTRIBUTES,
        pDeviceObject: *mut *mut DEVICE_OBJECT,
        NdisDeviceHandle: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    pub fn NdisDeregisterDeviceEx(NdisDeviceHandle: NDIS_HANDLE);
    pub fn NdisFSetAttributes(
        NdisFilterHandle: NDIS_HANDLE,
        FilterModuleContext: NDIS_HANDLE,
        FilterAttributes: *mut NDIS_FILTER_ATTRIBUTES,
    ) -> NDIS_STATUS;
    pub fn NdisFSendNetBufferLists(
        NdisFilterHandle: NDIS_HANDLE,
        NetBufferList: *mut NET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        SendFlags: u32,
    );
    pub fn NdisFSendNetBufferListsComplete(
        NdisFilterHandle: NDIS_HANDLE,
        NetBufferList: *mut NET_BUFFER_LIST,
        SendCompleteFlags: u32,
    );
    pub fn NdisFIndicateReceiveNetBufferLists(
        NdisFilterHandle: NDIS_HANDLE,
        NetBufferLists: *mut NET_BUFFER_LIST,
        PortNumber: NDIS_PORT_NUMBER,
        NumberOfNetBufferLists: u32,
        ReceiveFlags: u32,
    );
    pub fn NdisFReturnNetBufferLists(
        NdisFilterHandle: NDIS_HANDLE,
        NetBufferLists: *mut NET_BUFFER_LIST,
        ReturnFlags: u32,
    );
    pub fn NdisFCancelSendNetBufferLists(NdisFilterHandle: NDIS_HANDLE, CancelId: *mut c_void);
    pub fn NdisFPauseComplete(NdisFilterHandle: NDIS_HANDLE);
    pub fn NdisFIndicateStatus(
        NdisFilterHandle: NDIS_HANDLE,
        StatusIndication: *mut NDIS_STATUS_INDICATION,
    );
    pub fn NdisFNetPnPEvent(
        NdisFilterHandle: NDIS_HANDLE,
        NetPnPEventNotification: *mut c_void,
    ) -> NDIS_STATUS;
    pub fn NdisAllocateTimerObject(
        NdisHandle: NDIS_HANDLE,
        TimerCharacteristics: *mut NDIS_TIMER_CHARACTERISTICS,
        pTimerObject: *mut NDIS_HANDLE,
    ) -> NDIS_STATUS;
    /// DueTime is a LARGE_INTEGER passed by value: negative = relative, in
    /// 100 ns units.
    pub fn NdisSetTimerObject(
        TimerObject: NDIS_HANDLE,
        DueTime: i64,
        MillisecondsPeriod: u32,
        FunctionContext: *mut c_void,
    ) -> BOOLEAN;
    pub fn NdisCancelTimerObject(TimerObject: NDIS_HANDLE) -> BOOLEAN;
    pub fn NdisFreeTimerObject(TimerObject: NDIS_HANDLE);
    pub fn NdisAllocateSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    pub fn NdisFreeSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    pub fn NdisAcquireSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
    pub fn NdisReleaseSpinLock(SpinLock: *mut NDIS_SPIN_LOCK);
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    pub fn MmMapLockedPagesSpecifyCache(
        MemoryDescriptorList: *mut MDL,
        AccessMode: i8,
        CacheType: u32,
        RequestedAddress: *mut c_void,
        BugCheckOnFailure: u32,
        Priority: u32,
    ) -> *mut c_void;
    pub fn IofCompleteRequest(Irp: *mut IRP, PriorityBoost: i8);
    pub fn KeFlushQueuedDpcs();
    pub fn KeInitializeMutex(Mutex: *mut KMUTEX, Level: u32);
    /// Returns NTSTATUS; with a NULL timeout it waits until it owns the mutex.
    pub fn KeWaitForSingleObject(
        Object: *mut c_void,
        WaitReason: u32,
        WaitMode: i8,
        Alertable: BOOLEAN,
        Timeout: *mut i64,
    ) -> NTSTATUS;
    pub fn KeReleaseMutex(Mutex: *mut KMUTEX, Wait: BOOLEAN) -> i32;
}

/// KUSER_SHARED_DATA.InterruptTime on x64 (what wdm.h's
/// KeQueryInterruptTime macro reads): 100 ns units since boot.
const SHARED_INTERRUPT_TIME: usize = 0xFFFF_F780_0000_0008;

/// Interrupt time in 100 ns ticks (monotonic).
#[must_use]
pub fn query_interrupt_time() -> u64 {
    // SAFETY: KUSER_SHARED_DATA is mapped read-only at this fixed address in
    // every x64 kernel; wdm.h's KeQueryInterruptTime reads the same u64.
    unsafe { core::ptr::read_volatile(SHARED_INTERRUPT_TIME as *const u64) }
}
