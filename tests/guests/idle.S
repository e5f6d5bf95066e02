/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * idle: a tiny 32-bit multiboot kernel that leaves its vCPU idle.
 *
 * It writes one line to the debugcon port (0xe9), so a test can see that
 * the kernel ran, masks every interrupt line of both PICs and halts with
 * interrupts disabled (`cli; hlt`, in a loop in case an NMI wakes it):
 * the guest uses no CPU.
 *
 * Build: as --32 -o idle.o idle.S && ld -m elf_i386 -Ttext 0x100000 -o idle idle.o
 * (tests/support/guests.rs does this.)
 */

        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0
        .set DEBUGCON, 0xe9
        .set PIC1_DATA, 0x21
        .set PIC2_DATA, 0xa1

        .text
        .globl _start
        /* The multiboot header: first in .text, within the first 8 KiB. */
        .align 4
multiboot_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

_start:
        cli
        mov $msg, %esi
        mov $DEBUGCON, %dx
1:      lodsb
        test %al, %al
        jz 2f
        outb %al, %dx
        jmp 1b
2:      mov $0xff, %al          /* mask all IRQs of both PICs */
        outb %al, $PIC1_DATA
        outb %al, $PIC2_DATA
3:      cli
        hlt
        jmp 3b

msg:    .asciz "libvirt-power guest idle: halting\n"
