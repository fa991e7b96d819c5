//! Reading and writing bytes at absolute offsets of a frame split across
//! slices, without allocation and without panics.
//!
//! A frame is a list of slices, the way an MDL chain splits it. Most headers
//! lie in the first slice: [`Frame::view`] then borrows them in place. A
//! header that straddles slices (or lies past the first one) is copied into a
//! small stack array the caller provides. Either way the caller gets a
//! fixed-size array reference, so the typed header views built on top of it
//! cannot index out of bounds.

/// A read-only frame: a list of slices seen as one byte string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    slices: &'a [&'a [u8]],
    first: &'a [u8],
    len: usize,
}

impl<'a> Frame<'a> {
    /// Wraps the slices. Costs one pass over the (short) slice list to learn
    /// the total length.
    #[inline]
    pub(crate) fn new(slices: &'a [&'a [u8]]) -> Self {
        let first = slices.first().copied().unwrap_or(&[]);
        let len = slices
            .iter()
            .fold(0usize, |acc, s| acc.saturating_add(s.len()));
        Self { slices, first, len }
    }

    /// Total length in bytes.
    #[inline]
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// The `N` bytes at `offset`, borrowed from the first slice when they lie
    /// there, else copied into `buf`. `None` when the frame ends first.
    #[inline]
    pub(crate) fn view<'b, const N: usize>(
        &'b self,
        offset: usize,
        buf: &'b mut [u8; N],
    ) -> Option<&'b [u8; N]> {
        let end = offset.checked_add(N)?;
        if let Some(bytes) = self.first.get(offset..end) {
            return bytes.try_into().ok();
        }
        self.copy_slow(offset, buf)?;
        Some(buf)
    }

    /// Copies `out.len()` bytes from `offset` on, walking every slice. `None`
    /// (with `out` partly written) when the frame ends first.
    #[cold]
    fn copy_slow(&self, offset: usize, out: &mut [u8]) -> Option<()> {
        let mut skip = offset;
        let mut out = out;
        for slice in self.slices {
            if out.is_empty() {
                break;
            }
            let Some(rest) = slice.get(skip..) else {
                // The offset lies past this slice.
                skip = skip.checked_sub(slice.len())?;
                continue;
            };
            skip = 0;
            let n = rest.len().min(out.len());
            let (dst, tail) = out.split_at_mut_checked(n)?;
            dst.copy_from_slice(rest.get(..n)?);
            out = tail;
        }
        out.is_empty().then_some(())
    }

    /// The byte at `offset`.
    #[inline]
    pub(crate) fn u8_at(&self, offset: usize) -> Option<u8> {
        let mut buf = [0u8; 1];
        self.view(offset, &mut buf).map(|b| b[0])
    }
}

/// A writable frame: a list of mutable slices seen as one byte string.
///
/// The marker touches at most four bytes (the DS byte and the checksum, or a
/// tag's TCI), so bytes are located one at a time; each lookup walks the
/// (short) slice list and stops at the slice that holds the byte.
#[derive(Debug)]
pub(crate) struct FrameMut<'f, 'a> {
    slices: &'f mut [&'a mut [u8]],
}

impl<'f, 'a> FrameMut<'f, 'a> {
    /// Wraps the slices.
    #[inline]
    pub(crate) fn new(slices: &'f mut [&'a mut [u8]]) -> Self {
        Self { slices }
    }

    /// The byte at `offset`, for reading or writing.
    #[inline]
    pub(crate) fn byte_mut(&mut self, offset: usize) -> Option<&mut u8> {
        let mut skip = offset;
        for slice in self.slices.iter_mut() {
            let len = slice.len();
            match skip.checked_sub(len) {
                // The offset lies past this slice.
                Some(rest) => skip = rest,
                None => return slice.get_mut(skip),
            }
        }
        None
    }

    /// The byte at `offset`.
    #[inline]
    pub(crate) fn get(&mut self, offset: usize) -> Option<u8> {
        self.byte_mut(offset).map(|b| *b)
    }

    /// Writes the byte at `offset`; `None` when the frame is shorter.
    #[inline]
    pub(crate) fn set(&mut self, offset: usize, value: u8) -> Option<()> {
        self.byte_mut(offset).map(|b| *b = value)
    }
}
