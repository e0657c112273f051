//! `page-flip`: FreeBSD's zero-copy receive by page flipping.
//!
//! Models FreeBSD 5.0-CURRENT of 2002 (`ZERO_COPY_SOCKETS`): `sys/kern/uipc_socket.c`
//! `soreceive` calling `sys/kern/kern_subr.c` `uiomoveco` → `userspaceco` → `vm_pgmoveco`,
//! which replaces the user's page with the kernel's when the payload is a whole page, page
//! aligned in the user's buffer, as the Tigon II's header-splitting firmware delivers it.
//!
//! The flip is taken only when `userspaceco`'s test holds: `(cnt & PAGE_MASK) == 0` where
//! `cnt` is what this step moves, the smaller of what is left of the read (`iov_len`) and the
//! mbuf's piece, with the user address, `uio_offset` and the kernel address page-aligned. A
//! read length that is not a page multiple therefore flips the whole pages it covers and
//! copies its ragged end (a read shorter than a page never flips); here `cnt` is the piece
//! the read takes (cut to the read's length), and [`FlipMisfit::ShortLength`] refuses it.
//! The flip costs what `vm_pgmoveco` does (see `Vm::flip_page_in`): the map lookup, removing
//! and freeing the user's old page, renaming the kernel page into the user's object and
//! mapping it, and the TLB flush.

use super::{Entry, Explanation, Kernel, SourceKind, Strategy};
use crate::net::mbuf::ExtKind;
use crate::net::sockbuf::Piece;
use crate::vm::PAGE_SIZE;
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "page-flip",
    title: "FreeBSD page flipping on receive",
    origin: "FreeBSD ZERO_COPY_SOCKETS, 2002 (Gallatin, Merry), with the Alteon Tigon II's header-splitting firmware",
    source: "FreeBSD 5.0-CURRENT, 2002 (ZERO_COPY_SOCKETS): sys/kern/uipc_socket.c soreceive; sys/kern/kern_subr.c uiomoveco, userspaceco, vm_pgmoveco",
    steps: &[
        "with header splitting, the NIC puts each frame's payload at the start of its own page",
        "recv(): for each whole page whose place in the user's buffer is page-aligned (buffer and offset aligned, MTU above a page), vm_pgmoveco replaces the user's page with the kernel's: a PTE change, no copy",
        "anything that does not fit (a short tail, a misaligned buffer, no header splitting) is copied as usual",
    ],
    in_flight: "Not applicable: the page becomes the receiver's.",
};

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::Receive,
    make: || Strategy::PageFlip,
    options: &[],
};

/// Why a received page cannot be flipped into the reader's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlipMisfit {
    /// The payload is not in a page of its own (no header splitting).
    NotPageBacked,
    /// The payload does not start at the start of its page.
    PayloadUnaligned,
    /// The count moved (`cnt`: what is left of the read, or the piece, whichever is smaller)
    /// is not a whole page: `userspaceco` tests `(cnt & PAGE_MASK) == 0`.
    ShortLength,
    /// The reader's buffer does not start on a page boundary.
    BufferUnaligned,
    /// This page's place in the reader's buffer is not on a page boundary.
    OffsetUnaligned,
    /// The MTU is not larger than a page, so no frame fills a page.
    SmallMtu,
}

/// FreeBSD's conditions for flipping one received piece into the reader's buffer at
/// `buffer + offset`: the payload page-aligned in a page of its own, a whole page moved, the
/// buffer and the offset page-aligned, and an MTU above the page size.
pub fn flip_fits(
    ext: &crate::net::mbuf::Ext,
    piece: &Piece,
    buffer: u64,
    offset: u64,
    mtu_bytes: u64,
) -> Result<(), FlipMisfit> {
    if mtu_bytes <= PAGE_SIZE {
        return Err(FlipMisfit::SmallMtu);
    }
    match &ext.kind {
        ExtKind::Pages { pages } if pages.len() == 1 => {}
        _ => return Err(FlipMisfit::NotPageBacked),
    }
    if ext.offset_in_first_page + piece.off != 0 {
        return Err(FlipMisfit::PayloadUnaligned);
    }
    if piece.len != PAGE_SIZE || ext.len != PAGE_SIZE {
        return Err(FlipMisfit::ShortLength);
    }
    if !buffer.is_multiple_of(PAGE_SIZE) {
        return Err(FlipMisfit::BufferUnaligned);
    }
    if !offset.is_multiple_of(PAGE_SIZE) {
        return Err(FlipMisfit::OffsetUnaligned);
    }
    Ok(())
}

/// Flips `piece` into the user's buffer at `dest` if it fits, else copies it (a fallback).
/// Returns whether it flipped (the piece's storage is then consumed).
pub(super) fn receive(k: &mut Kernel<'_>, piece: &Piece, buf: u64, dest: u64, whole: bool) -> bool {
    let mtu = k.config().link.mtu_bytes;
    if whole && flip_fits(k.ext(piece.ext), piece, buf, dest - buf, mtu).is_ok() {
        let pfn = k.take_page(piece.ext);
        let asid = k.asid();
        let (vm, plan) = k.vm();
        vm.flip_page_in(asid, dest, pfn, plan)
            .expect("the receiver's buffer is mapped writable");
        k.count_flip(true, piece.len);
        k.path(
            PathNode::KernelBuffer,
            PathNode::UserBuffer,
            PathKind::Remap,
            piece.len,
        );
        return true;
    }
    k.count_flip(false, piece.len);
    super::recv_copy::receive(k, piece, dest);
    false
}
