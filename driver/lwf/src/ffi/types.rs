//! NDIS 6.30 and kernel declarations the driver uses, laid out for x86_64.
//!
//! Every offset below comes from /work/shared/reference/ndis-layouts.md
//! (WDK headers of NDIS 6.30..6.87 evaluated by clang, cross-checked against
//! PDB-derived dumps: selene, ntdiff, Vergilius). Each `offset_of!` check
//! names the table it comes from. Only the 64-bit layout is declared and
//! checked; the driver targets x86_64 only.
//!
//! Never rely on `size_of::<NET_BUFFER_LIST>()` for an NBL NDIS allocated:
//! the info array is longer in ndis.sys than in any header. Slot `i` lives at
//! `0x90 + 8 * i`; the driver only touches slots below
//! [`MAX_NET_BUFFER_LIST_INFO_630`].
#![allow(non_camel_case_types, non_snake_case, missing_docs)]

use core::ffi::c_void;
use core::mem::offset_of;

pub type NDIS_STATUS = i32;
pub type NTSTATUS = i32;
pub type NDIS_HANDLE = *mut c_void;
pub type NDIS_PORT_NUMBER = u32;
pub type BOOLEAN = u8;

/// NetBufferListInfo length of the NDIS 6.30 header on x64 (ndis-layouts.md
/// "MaxNetBufferListInfo@NDIS630_HEADER_X64" = 24).
pub const MAX_NET_BUFFER_LIST_INFO_630: usize = 24;

/// NDIS_OBJECT_HEADER (ndis-layouts.md §4: size 0x4).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NDIS_OBJECT_HEADER {
    pub Type: u8,
    pub Revision: u8,
    pub Size: u16,
}
const _: () = assert!(core::mem::size_of::<NDIS_OBJECT_HEADER>() == 0x4);

/// UNICODE_STRING / NDIS_STRING (ndis-layouts.md §5: size 0x10, Buffer at 0x8).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct UNICODE_STRING {
    /// Length in bytes, not characters.
    pub Length: u16,
    pub MaximumLength: u16,
    pub Buffer: *mut u16,
}
const _: () = assert!(core::mem::size_of::<UNICODE_STRING>() == 0x10);
const _: () = assert!(offset_of!(UNICODE_STRING, Buffer) == 0x8);
pub type NDIS_STRING = UNICODE_STRING;

impl UNICODE_STRING {
    /// An empty string.
    pub const EMPTY: Self = Self {
        Length: 0,
        MaximumLength: 0,
        Buffer: core::ptr::null_mut(),
    };
}

/// NET_BUFFER_LIST as the NDIS 6.30 header declares it (ndis-layouts.md §1:
/// every field offset identical from Win8 to Win11; 24 info slots, so
/// size 0x150 here, but ndis.sys allocates 0x160..0x180: never use the size).
#[repr(C, align(16))]
#[derive(Debug)]
pub struct NET_BUFFER_LIST {
    pub Next: *mut NET_BUFFER_LIST,
    pub FirstNetBuffer: *mut NET_BUFFER,
    pub Context: *mut c_void,
    pub ParentNetBufferList: *mut NET_BUFFER_LIST,
    pub NdisPoolHandle: NDIS_HANDLE,
    pub _Pad0: usize,
    pub NdisReserved: [*mut c_void; 2],
    pub ProtocolReserved: [*mut c_void; 4],
    pub MiniportReserved: [*mut c_void; 2],
    pub Scratch: *mut c_void,
    pub SourceHandle: NDIS_HANDLE,
    pub NblFlags: u32,
    pub ChildRefCount: i32,
    pub Flags: u32,
    pub Status: NDIS_STATUS,
    pub NetBufferListInfo: [*mut c_void; MAX_NET_BUFFER_LIST_INFO_630],
}
// ndis-layouts.md §1 NET_BUFFER_LIST table.
const _: () = assert!(offset_of!(NET_BUFFER_LIST, Next) == 0x0);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, FirstNetBuffer) == 0x8);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, Context) == 0x10);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, ParentNetBufferList) == 0x18);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, NdisPoolHandle) == 0x20);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, NdisReserved) == 0x30);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, ProtocolReserved) == 0x40);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, MiniportReserved) == 0x60);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, Scratch) == 0x70);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, SourceHandle) == 0x78);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, NblFlags) == 0x80);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, ChildRefCount) == 0x84);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, Flags) == 0x88);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, Status) == 0x8c);
const _: () = assert!(offset_of!(NET_BUFFER_LIST, NetBufferListInfo) == 0x90);
// "NET_BUFFER_LIST@NDIS630_HEADER" size 0x150 (24 slots).
const _: () = assert!(core::mem::size_of::<NET_BUFFER_LIST>() == 0x150);
const _: () = assert!(core::mem::align_of::<NET_BUFFER_LIST>() == 16);

/// Indexes into `NetBufferListInfo` (ndis-layouts.md NDIS_NET_BUFFER_LIST_INFO).
pub const TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO: usize = 0;
pub const TCP_LARGE_SEND_NET_BUFFER_LIST_INFO: usize = 2;
pub const IEEE_8021Q_NET_BUFFER_LIST_INFO: usize = 4;
pub const NET_BUFFER_LIST_CANCEL_ID: usize = 5;
// Slot i at 0x90 + 8*i: Ieee8021Q at 0xb0, CancelId at 0xb8.
const _: () = assert!(
    offset_of!(NET_BUFFER_LIST, NetBufferListInfo) + 8 * IEEE_8021Q_NET_BUFFER_LIST_INFO == 0xb0
);
const _: () =
    assert!(offset_of!(NET_BUFFER_LIST, NetBufferListInfo) + 8 * NET_BUFFER_LIST_CANCEL_ID == 0xb8);
const _: () = assert!(
    offset_of!(NET_BUFFER_LIST, NetBufferListInfo) + 8 * TCP_LARGE_SEND_NET_BUFFER_LIST_INFO
        == 0xa0
);

/// NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO, stored by value in
/// slot [`TCP_LARGE_SEND_NET_BUFFER_LIST_INFO`] (ndis-layouts.md "Bit
/// layouts"): LsoV1Transmit and LsoV2Transmit both hold MSS in bits 0..19
/// and TcpHeaderOffset (from the start of the frame) in bits 20..29; bit 30
/// is Type (NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE 0, V2_TYPE 1); bit 31 is
/// LsoV2Transmit.IPVersion (IPv4 0, IPv6 1). A value with MSS 0 is not an
/// LSO request.
pub const LSO_MSS_MASK: u32 = 0x000F_FFFF;
/// First bit of TcpHeaderOffset.
pub const LSO_TCP_HEADER_OFFSET_SHIFT: u32 = 20;
/// TcpHeaderOffset, 10 bits.
pub const LSO_TCP_HEADER_OFFSET_MASK: u32 = 0x3FF0_0000;
/// Transmit.Type.
pub const LSO_TYPE_MASK: u32 = 0x4000_0000;
/// LsoV2Transmit.IPVersion.
pub const LSO_V2_IP_VERSION_MASK: u32 = 0x8000_0000;
/// NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE (ndis-layouts.md constants table).
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE: u32 = 0;
/// NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE (ndis-layouts.md constants table).
pub const NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE: u32 = 1;
// ndis-layouts.md bit table: MSS first bit 0 width 20; TcpHeaderOffset
// first bit 20 width 10; Type bit 30; IPVersion bit 31 (V1 and V2 alike).
const _: () = assert!(LSO_MSS_MASK == (1 << 20) - 1);
const _: () = assert!(LSO_TCP_HEADER_OFFSET_MASK == ((1 << 10) - 1) << LSO_TCP_HEADER_OFFSET_SHIFT);
const _: () = assert!(LSO_TCP_HEADER_OFFSET_SHIFT == 20);
const _: () = assert!(LSO_TYPE_MASK == 1 << 30);
const _: () = assert!(LSO_V2_IP_VERSION_MASK == 1 << 31);
const _: () = assert!(
    LSO_MSS_MASK & LSO_TCP_HEADER_OFFSET_MASK == 0
        && (LSO_MSS_MASK | LSO_TCP_HEADER_OFFSET_MASK) & LSO_TYPE_MASK == 0
);

/// NET_BUFFER (ndis-layouts.md §2: size 0xb0, align 16). `DataLength` is the
/// low half of the `stDataLength` union at 0x18.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct NET_BUFFER {
    pub Next: *mut NET_BUFFER,
    pub CurrentMdl: *mut MDL,
    pub CurrentMdlOffset: u32,
    pub _Pad0: u32,
    pub DataLength: u32,
    pub _DataLengthHigh: u32,
    pub MdlChain: *mut MDL,
    pub DataOffset: u32,
    pub _Pad1: u32,
    pub ChecksumBias: u16,
    pub Reserved: u16,
    pub _Pad2: u32,
    pub NdisPoolHandle: NDIS_HANDLE,
    pub NdisReserved: [*mut c_void; 2],
    pub ProtocolReserved: [*mut c_void; 6],
    pub MiniportReserved: [*mut c_void; 4],
    pub DataPhysicalAddress: i64,
    pub SharedMemoryInfo: *mut c_void,
}
// ndis-layouts.md §2 NET_BUFFER table.
const _: () = assert!(offset_of!(NET_BUFFER, Next) == 0x0);
const _: () = assert!(offset_of!(NET_BUFFER, CurrentMdl) == 0x8);
const _: () = assert!(offset_of!(NET_BUFFER, CurrentMdlOffset) == 0x10);
const _: () = assert!(offset_of!(NET_BUFFER, DataLength) == 0x18);
const _: () = assert!(offset_of!(NET_BUFFER, MdlChain) == 0x20);
const _: () = assert!(offset_of!(NET_BUFFER, DataOffset) == 0x28);
const _: () = assert!(offset_of!(NET_BUFFER, ChecksumBias) == 0x30);
const _: () = assert!(offset_of!(NET_BUFFER, NdisPoolHandle) == 0x38);
const _: () = assert!(offset_of!(NET_BUFFER, NdisReserved) == 0x40);
const _: () = assert!(offset_of!(NET_BUFFER, ProtocolReserved) == 0x50);
const _: () = assert!(offset_of!(NET_BUFFER, MiniportReserved) == 0x80);
const _: () = assert!(offset_of!(NET_BUFFER, DataPhysicalAddress) == 0xa0);
const _: () = assert!(offset_of!(NET_BUFFER, SharedMemoryInfo) == 0xa8);
const _: () = assert!(core::mem::size_of::<NET_BUFFER>() == 0xb0);

/// MDL header (ndis-layouts.md §3: size 0x30; the PFN array follows it).
#[repr(C)]
#[derive(Debug)]
pub struct MDL {
    pub Next: *mut MDL,
    pub Size: i16,
    pub MdlFlags: i16,
    pub AllocationProcessorNumber: u16,
    pub Reserved: u16,
    pub Process: *mut c_void,
    pub MappedSystemVa: *mut c_void,
    pub StartVa: *mut c_void,
    pub ByteCount: u32,
    pub ByteOffset: u32,
}
const _: () = assert!(offset_of!(MDL, Next) == 0x0);
const _: () = assert!(offset_of!(MDL, Size) == 0x8);
const _: () = assert!(offset_of!(MDL, MdlFlags) == 0xa);
const _: () = assert!(offset_of!(MDL, Process) == 0x10);
const _: () = assert!(offset_of!(MDL, MappedSystemVa) == 0x18);
const _: () = assert!(offset_of!(MDL, StartVa) == 0x20);
const _: () = assert!(offset_of!(MDL, ByteCount) == 0x28);
const _: () = assert!(offset_of!(MDL, ByteOffset) == 0x2c);
const _: () = assert!(core::mem::size_of::<MDL>() == 0x30);

pub const MDL_MAPPED_TO_SYSTEM_VA: i16 = 0x1;
pub const MDL_PAGES_LOCKED: i16 = 0x2;
pub const MDL_SOURCE_IS_NONPAGED_POOL: i16 = 0x4;
pub const MDL_PARTIAL: i16 = 0x10;

// ---------------------------------------------------------------- handlers

pub type FILTER_SET_OPTIONS = unsafe extern "system" fn(
    NdisDriverHandle: NDIS_HANDLE,
    DriverContext: NDIS_HANDLE,
) -> NDIS_STATUS;
pub type FILTER_SET_MODULE_OPTIONS =
    unsafe extern "system" fn(FilterModuleContext: NDIS_HANDLE) -> NDIS_STATUS;
pub type FILTER_ATTACH = unsafe extern "system" fn(
    NdisFilterHandle: NDIS_HANDLE,
    FilterDriverContext: NDIS_HANDLE,
    AttachParameters: *mut NDIS_FILTER_ATTACH_PARAMETERS,
) -> NDIS_STATUS;
pub type FILTER_DETACH = unsafe extern "system" fn(FilterModuleContext: NDIS_HANDLE);
pub type FILTER_RESTART = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    RestartParameters: *mut NDIS_FILTER_RESTART_PARAMETERS,
) -> NDIS_STATUS;
pub type FILTER_PAUSE = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    PauseParameters: *mut NDIS_FILTER_PAUSE_PARAMETERS,
) -> NDIS_STATUS;
pub type FILTER_SEND_NET_BUFFER_LISTS = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetBufferLists: *mut NET_BUFFER_LIST,
    PortNumber: NDIS_PORT_NUMBER,
    SendFlags: u32,
);
pub type FILTER_SEND_NET_BUFFER_LISTS_COMPLETE = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetBufferLists: *mut NET_BUFFER_LIST,
    SendCompleteFlags: u32,
);
pub type FILTER_CANCEL_SEND_NET_BUFFER_LISTS =
    unsafe extern "system" fn(FilterModuleContext: NDIS_HANDLE, CancelId: *mut c_void);
pub type FILTER_RECEIVE_NET_BUFFER_LISTS = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetBufferLists: *mut NET_BUFFER_LIST,
    PortNumber: NDIS_PORT_NUMBER,
    NumberOfNetBufferLists: u32,
    ReceiveFlags: u32,
);
pub type FILTER_RETURN_NET_BUFFER_LISTS = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetBufferLists: *mut NET_BUFFER_LIST,
    ReturnFlags: u32,
);
pub type FILTER_NET_PNP_EVENT = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    NetPnPEventNotification: *mut c_void,
) -> NDIS_STATUS;
pub type FILTER_STATUS = unsafe extern "system" fn(
    FilterModuleContext: NDIS_HANDLE,
    StatusIndication: *mut NDIS_STATUS_INDICATION,
);
/// A handler slot the driver leaves NULL (OID handlers: NDIS passes OIDs
/// through faster when they are NULL).
pub type UNUSED_HANDLER = unsafe extern "system" fn();

/// NDIS_FILTER_DRIVER_CHARACTERISTICS (ndis-layouts.md §4: REVISION_2 size
/// 0xe0 for an NDIS 6.30 filter; the REVISION_3 tail is not declared).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_FILTER_DRIVER_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub MajorNdisVersion: u8,
    pub MinorNdisVersion: u8,
    pub MajorDriverVersion: u8,
    pub MinorDriverVersion: u8,
    pub Flags: u32,
    pub FriendlyName: NDIS_STRING,
    pub UniqueName: NDIS_STRING,
    pub ServiceName: NDIS_STRING,
    pub SetOptionsHandler: Option<FILTER_SET_OPTIONS>,
    pub SetFilterModuleOptionsHandler: Option<FILTER_SET_MODULE_OPTIONS>,
    pub AttachHandler: Option<FILTER_ATTACH>,
    pub DetachHandler: Option<FILTER_DETACH>,
    pub RestartHandler: Option<FILTER_RESTART>,
    pub PauseHandler: Option<FILTER_PAUSE>,
    pub SendNetBufferListsHandler: Option<FILTER_SEND_NET_BUFFER_LISTS>,
    pub SendNetBufferListsCompleteHandler: Option<FILTER_SEND_NET_BUFFER_LISTS_COMPLETE>,
    pub CancelSendNetBufferListsHandler: Option<FILTER_CANCEL_SEND_NET_BUFFER_LISTS>,
    pub ReceiveNetBufferListsHandler: Option<FILTER_RECEIVE_NET_BUFFER_LISTS>,
    pub ReturnNetBufferListsHandler: Option<FILTER_RETURN_NET_BUFFER_LISTS>,
    pub OidRequestHandler: Option<UNUSED_HANDLER>,
    pub OidRequestCompleteHandler: Option<UNUSED_HANDLER>,
    pub CancelOidRequestHandler: Option<UNUSED_HANDLER>,
    pub DevicePnPEventNotifyHandler: Option<UNUSED_HANDLER>,
    pub NetPnPEventHandler: Option<FILTER_NET_PNP_EVENT>,
    pub StatusHandler: Option<FILTER_STATUS>,
    pub DirectOidRequestHandler: Option<UNUSED_HANDLER>,
    pub DirectOidRequestCompleteHandler: Option<UNUSED_HANDLER>,
    pub CancelDirectOidRequestHandler: Option<UNUSED_HANDLER>,
}
// ndis-layouts.md §4 NDIS_FILTER_DRIVER_CHARACTERISTICS table.
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, MajorNdisVersion) == 0x4);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, Flags) == 0x8);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, FriendlyName) == 0x10);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, UniqueName) == 0x20);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, ServiceName) == 0x30);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, SetOptionsHandler) == 0x40);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, AttachHandler) == 0x50);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, DetachHandler) == 0x58);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, RestartHandler) == 0x60);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, PauseHandler) == 0x68);
const _: () = assert!(
    offset_of!(
        NDIS_FILTER_DRIVER_CHARACTERISTICS,
        SendNetBufferListsHandler
    ) == 0x70
);
const _: () = assert!(
    offset_of!(
        NDIS_FILTER_DRIVER_CHARACTERISTICS,
        SendNetBufferListsCompleteHandler
    ) == 0x78
);
const _: () = assert!(
    offset_of!(
        NDIS_FILTER_DRIVER_CHARACTERISTICS,
        CancelSendNetBufferListsHandler
    ) == 0x80
);
const _: () = assert!(
    offset_of!(
        NDIS_FILTER_DRIVER_CHARACTERISTICS,
        ReceiveNetBufferListsHandler
    ) == 0x88
);
const _: () = assert!(
    offset_of!(
        NDIS_FILTER_DRIVER_CHARACTERISTICS,
        ReturnNetBufferListsHandler
    ) == 0x90
);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, OidRequestHandler) == 0x98);
const _: () = assert!(
    offset_of!(
        NDIS_FILTER_DRIVER_CHARACTERISTICS,
        DevicePnPEventNotifyHandler
    ) == 0xb0
);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, NetPnPEventHandler) == 0xb8);
const _: () = assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, StatusHandler) == 0xc0);
const _: () =
    assert!(offset_of!(NDIS_FILTER_DRIVER_CHARACTERISTICS, DirectOidRequestHandler) == 0xc8);
const _: () = assert!(
    offset_of!(
        NDIS_FILTER_DRIVER_CHARACTERISTICS,
        CancelDirectOidRequestHandler
    ) == 0xd8
);
// NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2 = 0xe0.
const _: () = assert!(core::mem::size_of::<NDIS_FILTER_DRIVER_CHARACTERISTICS>() == 0xe0);

/// NDIS_FILTER_ATTACH_PARAMETERS (ndis-layouts.md §4: REVISION_4 size 0xe0).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_FILTER_ATTACH_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub IfIndex: u32,
    pub NetLuid: u64,
    pub FilterModuleGuidName: *mut NDIS_STRING,
    pub BaseMiniportIfIndex: u32,
    pub BaseMiniportInstanceName: *mut NDIS_STRING,
    pub BaseMiniportName: *mut NDIS_STRING,
    pub MediaConnectState: u32,
    pub MediaDuplexState: u32,
    pub XmitLinkSpeed: u64,
    pub RcvLinkSpeed: u64,
    pub MiniportMediaType: u32,
    pub MiniportPhysicalMediaType: u32,
    pub MiniportMediaSpecificAttributes: NDIS_HANDLE,
    pub DefaultOffloadConfiguration: *mut c_void,
    pub MacAddressLength: u16,
    pub CurrentMacAddress: [u8; NDIS_MAX_PHYS_ADDRESS_LENGTH],
    pub BaseMiniportNetLuid: u64,
    pub LowerIfIndex: u32,
    pub LowerIfNetLuid: u64,
    pub Flags: u32,
    pub HDSplitCurrentConfig: *mut c_void,
    pub ReceiveFilterCapabilities: *mut c_void,
    pub MiniportPhysicalDeviceObject: *mut c_void,
    pub NicSwitchCapabilities: *mut c_void,
    pub BaseMiniportIfConnectorPresent: BOOLEAN,
    pub SriovCapabilities: *mut c_void,
    pub NicSwitchArray: *mut c_void,
}
// ndis-layouts.md §4 NDIS_FILTER_ATTACH_PARAMETERS table.
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, IfIndex) == 0x4);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, NetLuid) == 0x8);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, FilterModuleGuidName) == 0x10);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, BaseMiniportIfIndex) == 0x18);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, BaseMiniportInstanceName) == 0x20);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, BaseMiniportName) == 0x28);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, MediaConnectState) == 0x30);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, XmitLinkSpeed) == 0x38);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, RcvLinkSpeed) == 0x40);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, MiniportMediaType) == 0x48);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, MiniportPhysicalMediaType) == 0x4c);
const _: () =
    assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, DefaultOffloadConfiguration) == 0x58);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, MacAddressLength) == 0x60);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, CurrentMacAddress) == 0x62);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, BaseMiniportNetLuid) == 0x88);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, LowerIfIndex) == 0x90);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, LowerIfNetLuid) == 0x98);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, Flags) == 0xa0);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, HDSplitCurrentConfig) == 0xa8);
const _: () = assert!(
    offset_of!(
        NDIS_FILTER_ATTACH_PARAMETERS,
        BaseMiniportIfConnectorPresent
    ) == 0xc8
);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, SriovCapabilities) == 0xd0);
const _: () = assert!(offset_of!(NDIS_FILTER_ATTACH_PARAMETERS, NicSwitchArray) == 0xd8);
const _: () = assert!(core::mem::size_of::<NDIS_FILTER_ATTACH_PARAMETERS>() == 0xe0);

/// NDIS_FILTER_RESTART_PARAMETERS (ndis-layouts.md §4: size 0x30).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_FILTER_RESTART_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub MiniportMediaType: u32,
    pub MiniportPhysicalMediaType: u32,
    pub RestartAttributes: *mut c_void,
    pub LowerIfIndex: u32,
    pub LowerIfNetLuid: u64,
    pub Flags: u32,
}
const _: () = assert!(offset_of!(NDIS_FILTER_RESTART_PARAMETERS, MiniportMediaType) == 0x4);
const _: () = assert!(offset_of!(NDIS_FILTER_RESTART_PARAMETERS, RestartAttributes) == 0x10);
const _: () = assert!(offset_of!(NDIS_FILTER_RESTART_PARAMETERS, LowerIfIndex) == 0x18);
const _: () = assert!(offset_of!(NDIS_FILTER_RESTART_PARAMETERS, LowerIfNetLuid) == 0x20);
const _: () = assert!(offset_of!(NDIS_FILTER_RESTART_PARAMETERS, Flags) == 0x28);
const _: () = assert!(core::mem::size_of::<NDIS_FILTER_RESTART_PARAMETERS>() == 0x30);

/// NDIS_FILTER_PAUSE_PARAMETERS (ndis-layouts.md §4: size 0xc).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_FILTER_PAUSE_PARAMETERS {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
    pub PauseReason: u32,
}
const _: () = assert!(offset_of!(NDIS_FILTER_PAUSE_PARAMETERS, PauseReason) == 0x8);
const _: () = assert!(core::mem::size_of::<NDIS_FILTER_PAUSE_PARAMETERS>() == 0xc);

/// NDIS_FILTER_ATTRIBUTES (ndis-layouts.md §4: size 0x8).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_FILTER_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub Flags: u32,
}
const _: () = assert!(core::mem::size_of::<NDIS_FILTER_ATTRIBUTES>() == 0x8);

/// A 16-byte GUID.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GUID {
    pub Data1: u32,
    pub Data2: u16,
    pub Data3: u16,
    pub Data4: [u8; 8],
}

/// NDIS_STATUS_INDICATION (ndis-layouts.md §4: size 0x70, Guid at 0x3c).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_STATUS_INDICATION {
    pub Header: NDIS_OBJECT_HEADER,
    pub SourceHandle: NDIS_HANDLE,
    pub PortNumber: NDIS_PORT_NUMBER,
    pub StatusCode: NDIS_STATUS,
    pub Flags: u32,
    pub DestinationHandle: NDIS_HANDLE,
    pub RequestId: *mut c_void,
    pub StatusBuffer: *mut c_void,
    pub StatusBufferSize: u32,
    pub Guid: GUID,
    pub NdisReserved: [*mut c_void; 4],
}
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, SourceHandle) == 0x8);
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, PortNumber) == 0x10);
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, StatusCode) == 0x14);
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, Flags) == 0x18);
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, DestinationHandle) == 0x20);
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, RequestId) == 0x28);
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, StatusBuffer) == 0x30);
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, StatusBufferSize) == 0x38);
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, Guid) == 0x3c);
const _: () = assert!(offset_of!(NDIS_STATUS_INDICATION, NdisReserved) == 0x50);
const _: () = assert!(core::mem::size_of::<NDIS_STATUS_INDICATION>() == 0x70);

/// NDIS_LINK_STATE (ndis-layouts.md §4: size 0x28).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_LINK_STATE {
    pub Header: NDIS_OBJECT_HEADER,
    pub MediaConnectState: u32,
    pub MediaDuplexState: u32,
    pub XmitLinkSpeed: u64,
    pub RcvLinkSpeed: u64,
    pub PauseFunctions: u32,
    pub AutoNegotiationFlags: u32,
}
const _: () = assert!(offset_of!(NDIS_LINK_STATE, MediaConnectState) == 0x4);
const _: () = assert!(offset_of!(NDIS_LINK_STATE, MediaDuplexState) == 0x8);
const _: () = assert!(offset_of!(NDIS_LINK_STATE, XmitLinkSpeed) == 0x10);
const _: () = assert!(offset_of!(NDIS_LINK_STATE, RcvLinkSpeed) == 0x18);
const _: () = assert!(offset_of!(NDIS_LINK_STATE, PauseFunctions) == 0x20);
const _: () = assert!(offset_of!(NDIS_LINK_STATE, AutoNegotiationFlags) == 0x24);
const _: () = assert!(core::mem::size_of::<NDIS_LINK_STATE>() == 0x28);

/// A major-function dispatch routine of the control device.
pub type DRIVER_DISPATCH =
    unsafe extern "system" fn(DeviceObject: *mut DEVICE_OBJECT, Irp: *mut IRP) -> NTSTATUS;
/// DRIVER_OBJECT.DriverUnload.
pub type DRIVER_UNLOAD = unsafe extern "system" fn(DriverObject: *mut DRIVER_OBJECT);

/// IRP_MJ_MAXIMUM_FUNCTION + 1.
pub const IRP_MJ_COUNT: usize = 28;

/// NDIS_DEVICE_OBJECT_ATTRIBUTES (ndis-layouts.md §4: size 0x38).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_DEVICE_OBJECT_ATTRIBUTES {
    pub Header: NDIS_OBJECT_HEADER,
    pub DeviceName: *mut NDIS_STRING,
    pub SymbolicName: *mut NDIS_STRING,
    pub MajorFunctions: *mut Option<DRIVER_DISPATCH>,
    pub ExtensionSize: u32,
    pub DefaultSDDLString: *const UNICODE_STRING,
    pub DeviceClassGuid: *const GUID,
}
const _: () = assert!(offset_of!(NDIS_DEVICE_OBJECT_ATTRIBUTES, DeviceName) == 0x8);
const _: () = assert!(offset_of!(NDIS_DEVICE_OBJECT_ATTRIBUTES, SymbolicName) == 0x10);
const _: () = assert!(offset_of!(NDIS_DEVICE_OBJECT_ATTRIBUTES, MajorFunctions) == 0x18);
const _: () = assert!(offset_of!(NDIS_DEVICE_OBJECT_ATTRIBUTES, ExtensionSize) == 0x20);
const _: () = assert!(offset_of!(NDIS_DEVICE_OBJECT_ATTRIBUTES, DefaultSDDLString) == 0x28);
const _: () = assert!(offset_of!(NDIS_DEVICE_OBJECT_ATTRIBUTES, DeviceClassGuid) == 0x30);
const _: () = assert!(core::mem::size_of::<NDIS_DEVICE_OBJECT_ATTRIBUTES>() == 0x38);

/// NDIS_TIMER_FUNCTION.
pub type NDIS_TIMER_FUNCTION = unsafe extern "system" fn(
    SystemSpecific1: *mut c_void,
    FunctionContext: *mut c_void,
    SystemSpecific2: *mut c_void,
    SystemSpecific3: *mut c_void,
);

/// NDIS_TIMER_CHARACTERISTICS (ndis-layouts.md §4: size 0x18).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NDIS_TIMER_CHARACTERISTICS {
    pub Header: NDIS_OBJECT_HEADER,
    pub AllocationTag: u32,
    pub TimerFunction: Option<NDIS_TIMER_FUNCTION>,
    pub FunctionContext: *mut c_void,
}
const _: () = assert!(offset_of!(NDIS_TIMER_CHARACTERISTICS, AllocationTag) == 0x4);
const _: () = assert!(offset_of!(NDIS_TIMER_CHARACTERISTICS, TimerFunction) == 0x8);
const _: () = assert!(offset_of!(NDIS_TIMER_CHARACTERISTICS, FunctionContext) == 0x10);
const _: () = assert!(core::mem::size_of::<NDIS_TIMER_CHARACTERISTICS>() == 0x18);

/// NDIS_SPIN_LOCK: a KSPIN_LOCK (pointer-sized) and the saved IRQL.
#[repr(C)]
#[derive(Debug, Default)]
pub struct NDIS_SPIN_LOCK {
    pub SpinLock: usize,
    pub OldIrql: u8,
}
const _: () = assert!(core::mem::size_of::<NDIS_SPIN_LOCK>() == 0x10);

/// KMUTEX (= KMUTANT: DISPATCHER_HEADER 0x18, MutantListEntry 0x10,
/// OwnerThread 8, Abandoned and ApcDisable: 0x38 on x64, wdm.h; not in
/// ndis-layouts.md). Opaque storage, initialised by KeInitializeMutex.
#[repr(C, align(8))]
#[derive(Debug)]
pub struct KMUTEX {
    pub Opaque: [u64; 7],
}
const _: () = assert!(core::mem::size_of::<KMUTEX>() == 0x38);

/// KWAIT_REASON Executive.
pub const EXECUTIVE: u32 = 0;

/// IO_STATUS_BLOCK (ndis-layouts.md §5: size 0x10).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct IO_STATUS_BLOCK {
    /// NTSTATUS in the low 4 bytes of the Status/Pointer union.
    pub Status: NTSTATUS,
    pub _StatusHigh: u32,
    pub Information: usize,
}
const _: () = assert!(offset_of!(IO_STATUS_BLOCK, Information) == 0x8);
const _: () = assert!(core::mem::size_of::<IO_STATUS_BLOCK>() == 0x10);

/// DRIVER_OBJECT (ndis-layouts.md §5: size 0x150).
#[repr(C)]
#[derive(Debug)]
pub struct DRIVER_OBJECT {
    pub Type: i16,
    pub Size: i16,
    pub DeviceObject: *mut DEVICE_OBJECT,
    pub Flags: u32,
    pub DriverStart: *mut c_void,
    pub DriverSize: u32,
    pub DriverSection: *mut c_void,
    pub DriverExtension: *mut c_void,
    pub DriverName: UNICODE_STRING,
    pub HardwareDatabase: *mut UNICODE_STRING,
    pub FastIoDispatch: *mut c_void,
    pub DriverInit: *mut c_void,
    pub DriverStartIo: *mut c_void,
    pub DriverUnload: Option<DRIVER_UNLOAD>,
    pub MajorFunction: [Option<DRIVER_DISPATCH>; IRP_MJ_COUNT],
}
const _: () = assert!(offset_of!(DRIVER_OBJECT, DeviceObject) == 0x8);
const _: () = assert!(offset_of!(DRIVER_OBJECT, DriverName) == 0x38);
const _: () = assert!(offset_of!(DRIVER_OBJECT, DriverUnload) == 0x68);
const _: () = assert!(offset_of!(DRIVER_OBJECT, MajorFunction) == 0x70);
const _: () = assert!(core::mem::size_of::<DRIVER_OBJECT>() == 0x150);

/// The leading part of DEVICE_OBJECT (ndis-layouts.md §5); only ever
/// reached through a pointer NDIS gave us.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct DEVICE_OBJECT {
    pub Type: i16,
    pub Size: u16,
    pub ReferenceCount: i32,
    pub DriverObject: *mut DRIVER_OBJECT,
    pub NextDevice: *mut DEVICE_OBJECT,
    pub AttachedDevice: *mut DEVICE_OBJECT,
    pub CurrentIrp: *mut IRP,
    pub Timer: *mut c_void,
    pub Flags: u32,
    pub Characteristics: u32,
    pub Vpb: *mut c_void,
    pub DeviceExtension: *mut c_void,
    pub DeviceType: u32,
    pub StackSize: i8,
}
const _: () = assert!(offset_of!(DEVICE_OBJECT, DriverObject) == 0x8);
const _: () = assert!(offset_of!(DEVICE_OBJECT, Flags) == 0x30);
const _: () = assert!(offset_of!(DEVICE_OBJECT, DeviceExtension) == 0x40);
const _: () = assert!(offset_of!(DEVICE_OBJECT, DeviceType) == 0x48);
const _: () = assert!(offset_of!(DEVICE_OBJECT, StackSize) == 0x4c);

/// The leading part of IRP (ndis-layouts.md §5: size 0xd0; stack locations
/// follow it). Only the fields a METHOD_BUFFERED dispatch reads.
#[repr(C)]
#[derive(Debug)]
pub struct IRP {
    pub Type: i16,
    pub Size: u16,
    pub _Reserved04: u32,
    pub MdlAddress: *mut MDL,
    pub Flags: u32,
    pub _Pad14: u32,
    /// AssociatedIrp.SystemBuffer.
    pub SystemBuffer: *mut c_void,
    pub ThreadListEntry: [*mut c_void; 2],
    pub IoStatus: IO_STATUS_BLOCK,
    pub RequestorMode: i8,
    pub PendingReturned: BOOLEAN,
    pub StackCount: i8,
    pub CurrentLocation: i8,
    pub Cancel: BOOLEAN,
    pub CancelIrql: u8,
    pub ApcEnvironment: i8,
    pub AllocationFlags: u8,
    pub UserIosb: *mut c_void,
    pub UserEvent: *mut c_void,
    pub Overlay: [*mut c_void; 2],
    pub CancelRoutine: *mut c_void,
    pub UserBuffer: *mut c_void,
    /// Tail.Overlay.DriverContext.
    pub DriverContext: [*mut c_void; 4],
    pub Thread: *mut c_void,
    pub AuxiliaryBuffer: *mut c_void,
    pub ListEntry: [*mut c_void; 2],
    /// Tail.Overlay.CurrentStackLocation (IoGetCurrentIrpStackLocation).
    pub CurrentStackLocation: *mut IO_STACK_LOCATION,
    pub OriginalFileObject: *mut c_void,
    pub IrpExtension: *mut c_void,
}
// ndis-layouts.md §5 IRP table.
const _: () = assert!(offset_of!(IRP, MdlAddress) == 0x8);
const _: () = assert!(offset_of!(IRP, Flags) == 0x10);
const _: () = assert!(offset_of!(IRP, SystemBuffer) == 0x18);
const _: () = assert!(offset_of!(IRP, ThreadListEntry) == 0x20);
const _: () = assert!(offset_of!(IRP, IoStatus) == 0x30);
const _: () = assert!(offset_of!(IRP, RequestorMode) == 0x40);
const _: () = assert!(offset_of!(IRP, Cancel) == 0x44);
const _: () = assert!(offset_of!(IRP, CancelRoutine) == 0x68);
const _: () = assert!(offset_of!(IRP, UserBuffer) == 0x70);
const _: () = assert!(offset_of!(IRP, DriverContext) == 0x78);
const _: () = assert!(offset_of!(IRP, CurrentStackLocation) == 0xb8);
const _: () = assert!(core::mem::size_of::<IRP>() == 0xd0);

/// IO_STACK_LOCATION (ndis-layouts.md §5: size 0x48). `Parameters` is a
/// 32-byte union; DeviceIoControl's members sit at +0, +8, +0x10, +0x18
/// inside it (POINTER_ALIGNMENT). Not windows-sys's declaration, which is
/// wrong on x64 (windows-rs#4404).
#[repr(C)]
#[derive(Debug)]
pub struct IO_STACK_LOCATION {
    pub MajorFunction: u8,
    pub MinorFunction: u8,
    pub Flags: u8,
    pub Control: u8,
    pub _Pad4: u32,
    /// Parameters.DeviceIoControl.OutputBufferLength.
    pub OutputBufferLength: u32,
    pub _Pad0c: u32,
    /// Parameters.DeviceIoControl.InputBufferLength.
    pub InputBufferLength: u32,
    pub _Pad14: u32,
    /// Parameters.DeviceIoControl.IoControlCode.
    pub IoControlCode: u32,
    pub _Pad1c: u32,
    /// Parameters.DeviceIoControl.Type3InputBuffer.
    pub Type3InputBuffer: *mut c_void,
    pub DeviceObject: *mut DEVICE_OBJECT,
    pub FileObject: *mut c_void,
    pub CompletionRoutine: *mut c_void,
    pub Context: *mut c_void,
}
// ndis-layouts.md §5 IO_STACK_LOCATION table (absolute offsets).
const _: () = assert!(offset_of!(IO_STACK_LOCATION, OutputBufferLength) == 0x8);
const _: () = assert!(offset_of!(IO_STACK_LOCATION, InputBufferLength) == 0x10);
const _: () = assert!(offset_of!(IO_STACK_LOCATION, IoControlCode) == 0x18);
const _: () = assert!(offset_of!(IO_STACK_LOCATION, Type3InputBuffer) == 0x20);
const _: () = assert!(offset_of!(IO_STACK_LOCATION, DeviceObject) == 0x28);
const _: () = assert!(offset_of!(IO_STACK_LOCATION, FileObject) == 0x30);
const _: () = assert!(offset_of!(IO_STACK_LOCATION, CompletionRoutine) == 0x38);
const _: () = assert!(offset_of!(IO_STACK_LOCATION, Context) == 0x40);
const _: () = assert!(core::mem::size_of::<IO_STACK_LOCATION>() == 0x48);

// ---------------------------------------------------------------- constants

/// NDIS_STATUS values (ndis-layouts.md §6), as the i32 NDIS_STATUS is.
pub const NDIS_STATUS_SUCCESS: NDIS_STATUS = 0;
pub const NDIS_STATUS_PENDING: NDIS_STATUS = 0x103;
pub const NDIS_STATUS_FAILURE: NDIS_STATUS = 0xC000_0001_u32 as i32;
pub const NDIS_STATUS_RESOURCES: NDIS_STATUS = 0xC000_009A_u32 as i32;
pub const NDIS_STATUS_NOT_SUPPORTED: NDIS_STATUS = 0xC000_00BB_u32 as i32;
pub const NDIS_STATUS_PAUSED: NDIS_STATUS = 0xC023_002A_u32 as i32;
/// STATUS_NDIS_REQUEST_ABORTED: NOT NDIS_STATUS_REQUEST_ABORTED (0xC001000C).
pub const NDIS_STATUS_SEND_ABORTED: NDIS_STATUS = 0xC023_000C_u32 as i32;
pub const NDIS_STATUS_REQUEST_ABORTED: NDIS_STATUS = 0xC001_000C_u32 as i32;
pub const NDIS_STATUS_INVALID_PARAMETER: NDIS_STATUS = 0xC000_000D_u32 as i32;
pub const NDIS_STATUS_BAD_CHARACTERISTICS: NDIS_STATUS = 0xC001_0005_u32 as i32;
pub const NDIS_STATUS_BAD_VERSION: NDIS_STATUS = 0xC001_0004_u32 as i32;
pub const NDIS_STATUS_LINK_STATE: NDIS_STATUS = 0x4001_0017;
pub const NDIS_STATUS_MEDIA_CONNECT: NDIS_STATUS = 0x4001_000B;
pub const NDIS_STATUS_MEDIA_DISCONNECT: NDIS_STATUS = 0x4001_000C;
pub const NDIS_STATUS_INVALID_DEVICE_REQUEST: NDIS_STATUS = 0xC000_0010_u32 as i32;
/// NDIS_STATUS_UNSUPPORTED_MEDIA = STATUS_NDIS_UNSUPPORTED_MEDIA (ntstatus.h
/// 0xC0230019; not in ndis-layouts.md, value from the public ntstatus.h).
pub const NDIS_STATUS_UNSUPPORTED_MEDIA: NDIS_STATUS = 0xC023_0019_u32 as i32;

/// NTSTATUS values the control device returns.
pub const STATUS_SUCCESS: NTSTATUS = 0;
pub const STATUS_UNSUCCESSFUL: NTSTATUS = 0xC000_0001_u32 as i32;
pub const STATUS_INVALID_PARAMETER: NTSTATUS = 0xC000_000D_u32 as i32;
pub const STATUS_INVALID_DEVICE_REQUEST: NTSTATUS = 0xC000_0010_u32 as i32;
pub const STATUS_BUFFER_TOO_SMALL: NTSTATUS = 0xC000_0023_u32 as i32;
pub const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32 as i32;
pub const STATUS_DEVICE_NOT_READY: NTSTATUS = 0xC000_00A3_u32 as i32;

/// Send / receive / return flags (ndis-layouts.md §6).
pub const NDIS_SEND_FLAGS_DISPATCH_LEVEL: u32 = 0x1;
pub const NDIS_SEND_FLAGS_CHECK_FOR_LOOPBACK: u32 = 0x2;
pub const NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL: u32 = 0x1;
pub const NDIS_RECEIVE_FLAGS_DISPATCH_LEVEL: u32 = 0x1;
pub const NDIS_RECEIVE_FLAGS_RESOURCES: u32 = 0x2;
pub const NDIS_RETURN_FLAGS_DISPATCH_LEVEL: u32 = 0x1;

/// Object types and revisions (ndis-layouts.md §4 tables).
pub const NDIS_OBJECT_TYPE_DEFAULT: u8 = 0x80;
pub const NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES: u8 = 0x85;
pub const NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS: u8 = 0x8b;
pub const NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES: u8 = 0x8d;
pub const NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS: u8 = 0x97;
pub const NDIS_OBJECT_TYPE_STATUS_INDICATION: u8 = 0x98;
pub const NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS: u8 = 0x99;
pub const NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS: u8 = 0x9a;
pub const NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS: u8 = 0x9b;
pub const NDIS_FILTER_CHARACTERISTICS_REVISION_2: u8 = 2;
pub const NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2: u16 = 0xe0;
pub const NDIS_FILTER_ATTACH_PARAMETERS_REVISION_4: u8 = 4;
pub const NDIS_SIZEOF_FILTER_ATTACH_PARAMETERS_REVISION_4: u16 = 0xe0;
pub const NDIS_FILTER_RESTART_PARAMETERS_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_FILTER_RESTART_PARAMETERS_REVISION_1: u16 = 0x2c;
pub const NDIS_FILTER_PAUSE_PARAMETERS_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_FILTER_PAUSE_PARAMETERS_REVISION_1: u16 = 0xc;
pub const NDIS_FILTER_ATTRIBUTES_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_FILTER_ATTRIBUTES_REVISION_1: u16 = 8;
pub const NDIS_STATUS_INDICATION_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_STATUS_INDICATION_REVISION_1: u16 = 0x70;
pub const NDIS_LINK_STATE_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_LINK_STATE_REVISION_1: u16 = 0x28;
pub const NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1: u16 = 0x38;
pub const NDIS_TIMER_CHARACTERISTICS_REVISION_1: u8 = 1;
pub const NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1: u16 = 0x18;

/// NDIS 6.30 (ndis-layouts.md "NDIS_FILTER_MINOR_VERSION@NDIS630").
pub const NDIS_FILTER_MAJOR_VERSION: u8 = 6;
pub const NDIS_FILTER_MINOR_VERSION: u8 = 30;

/// NDIS_MEDIUM values.
pub const NDIS_MEDIUM_802_3: u32 = 0;
pub const NDIS_MEDIUM_WAN: u32 = 3;
pub const NDIS_MEDIUM_WIRELESS_WAN: u32 = 9;
pub const NDIS_MEDIUM_NATIVE_802_11: u32 = 16;
pub const NDIS_MEDIUM_LOOPBACK: u32 = 17;
pub const NDIS_MEDIUM_IP: u32 = 19;

pub const NDIS_MAX_PHYS_ADDRESS_LENGTH: usize = 32;
/// UNCONFIRMED value (all-ones), see ndis-layouts.md.
pub const NDIS_LINK_SPEED_UNKNOWN: u64 = u64::MAX;
pub const MEDIA_CONNECT_STATE_CONNECTED: u32 = 1;
pub const MEDIA_CONNECT_STATE_DISCONNECTED: u32 = 2;

/// IRP major functions and I/O.
pub const IRP_MJ_CREATE: u8 = 0;
pub const IRP_MJ_CLOSE: u8 = 2;
pub const IRP_MJ_DEVICE_CONTROL: u8 = 14;
pub const IRP_MJ_CLEANUP: u8 = 18;
pub const IO_NO_INCREMENT: i8 = 0;
pub const METHOD_BUFFERED: u32 = 0;
pub const FILE_DEVICE_NETWORK: u32 = 0x12;

/// MmMapLockedPagesSpecifyCache arguments.
pub const KERNEL_MODE: i8 = 0;
pub const MM_CACHED: u32 = 1;
pub const NORMAL_PAGE_PRIORITY: u32 = 16;
pub const MDL_MAPPING_NO_EXECUTE: u32 = 0x4000_0000;
