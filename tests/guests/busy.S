/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * busy: a tiny 32-bit multiboot kernel that keeps its vCPU busy.
 *
 * It writes one line to the debugcon port (0xe9), so a test can see that
 * the kernel ran, then spins forever (`jmp .`): the guest uses a full core.
 *
 * Build: as --32 -o busy.o busy.S && ld -m elf_i386 -Ttext 0x100000 -o busy busy.o
 * (tests/support/guests.rs does this.)
 */

        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0
        .set DEBUGCON, 0xe9

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
2:      jmp 2b                  /* spin: 100% of one CPU */

msg:    .asciz "libvirt-power guest busy: spinning\n"
