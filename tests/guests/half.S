/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * half: a tiny 32-bit multiboot kernel that keeps its vCPU about half busy.
 *
 * It loads a GDT and an IDT of its own, remaps the PICs (IRQ 0-15 to
 * vectors 0x20-0x2f, every line masked but IRQ0), programs the PIT's
 * channel 0 to 100 Hz, writes one line to the debugcon port (0xe9), so a
 * test can see that the kernel ran, and then alternates: one tick
 * spinning (until the tick counter changes), one tick in `hlt` (woken by
 * the next IRQ0). The IRQ0 handler counts the ticks and sends the EOI.
 * An exception writes a line saying so and halts with interrupts off.
 *
 * Build: as --32 -o half.o half.S && ld -m elf_i386 -Ttext 0x100000 -o half half.o
 * (tests/support/guests.rs does this.)
 */

        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0
        .set DEBUGCON, 0xe9
        .set PIC1_CMD, 0x20
        .set PIC1_DATA, 0x21
        .set PIC2_CMD, 0xa0
        .set PIC2_DATA, 0xa1
        .set PIC_EOI, 0x20
        .set PIT_CH0, 0x40
        .set PIT_CMD, 0x43
        .set PIT_HZ, 100
        .set PIT_DIVISOR, (1193182 + PIT_HZ / 2) / PIT_HZ
        .set IRQ_BASE, 0x20
        .set IDT_ENTRIES, 48
        .set CODE_SEL, 0x08
        .set DATA_SEL, 0x10

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
        /* Multiboot leaves GDTR and ESP undefined: our own of both. */
        lgdt gdt_desc
        ljmp $CODE_SEL, $1f
1:      mov $DATA_SEL, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %fs
        mov %ax, %gs
        mov %ax, %ss
        mov $stack_top, %esp

        /* IDT: exceptions (0-31) -> fault, IRQ0 -> timer, the other IRQs
         * (masked; a spurious IRQ7 needs no EOI) -> spurious. */
        mov $idt, %edi
        xor %ecx, %ecx
2:      mov $fault, %eax
        cmp $IRQ_BASE, %ecx
        jb 3f
        mov $spurious, %eax
        jne 3f
        mov $timer, %eax
3:      mov %ax, (%edi)                 /* offset 15:0 */
        movw $CODE_SEL, 2(%edi)         /* selector */
        movb $0, 4(%edi)
        movb $0x8e, 5(%edi)             /* present, DPL 0, 32-bit interrupt gate */
        shr $16, %eax
        mov %ax, 6(%edi)                /* offset 31:16 */
        add $8, %edi
        inc %ecx
        cmp $IDT_ENTRIES, %ecx
        jb 2b
        lidt idt_desc

        /* PICs: ICW1 (edge, cascade, ICW4), ICW2 (vector bases), ICW3
         * (slave on IRQ2), ICW4 (8086 mode); then the masks. */
        mov $0x11, %al
        outb %al, $PIC1_CMD
        outb %al, $PIC2_CMD
        mov $IRQ_BASE, %al
        outb %al, $PIC1_DATA
        mov $IRQ_BASE + 8, %al
        outb %al, $PIC2_DATA
        mov $0x04, %al
        outb %al, $PIC1_DATA
        mov $0x02, %al
        outb %al, $PIC2_DATA
        mov $0x01, %al
        outb %al, $PIC1_DATA
        outb %al, $PIC2_DATA
        mov $0xfe, %al                  /* IRQ0 only */
        outb %al, $PIC1_DATA
        mov $0xff, %al
        outb %al, $PIC2_DATA

        /* PIT channel 0: lobyte/hibyte, mode 3 (square wave), binary. */
        mov $0x36, %al
        outb %al, $PIT_CMD
        mov $(PIT_DIVISOR & 0xff), %al
        outb %al, $PIT_CH0
        mov $(PIT_DIVISOR >> 8), %al
        outb %al, $PIT_CH0

        mov $msg, %esi
        call puts
        sti

main:   mov ticks, %eax
4:      cmp ticks, %eax                 /* spin through one tick */
        je 4b
        hlt                             /* sleep through the next */
        jmp main

/* Writes the NUL-terminated string at %esi to debugcon. */
puts:   mov $DEBUGCON, %dx
5:      lodsb
        test %al, %al
        jz 6f
        outb %al, %dx
        jmp 5b
6:      ret

/* IRQ0. It returns without `iret`, which the KVM of some hosts cannot
 * emulate for a protected-mode guest ("KVM internal error. Suberror: 1"
 * under kvm-pvm): it restores EAX and the arithmetic flags (lahf/sahf;
 * the gate changed no other), drops the frame (EIP, CS, EFLAGS), enables
 * interrupts again (the interrupted code always runs with IF set) and
 * jumps back. */
timer:  push %eax
        lahf
        push %eax
        incl ticks
        mov $PIC_EOI, %al
        outb %al, $PIC1_CMD
        mov 8(%esp), %eax               /* the interrupted EIP */
        mov %eax, resume
        pop %eax
        sahf
        pop %eax
        add $12, %esp
        sti
        jmp *resume

/* A masked line's spurious interrupt (IRQ7 needs no EOI): back the same
 * way. */
spurious:
        push %eax
        lahf
        push %eax
        mov 8(%esp), %eax
        mov %eax, resume
        pop %eax
        sahf
        pop %eax
        add $12, %esp
        sti
        jmp *resume

fault:  cli
        mov $fault_msg, %esi
        call puts
7:      cli
        hlt
        jmp 7b

msg:    .asciz "libvirt-power guest half: duty cycle 50%\n"
fault_msg:
        .asciz "libvirt-power guest half: exception, halted\n"

        /* Everything below in .data, not .bss: it is in the file, so no
         * loader has to zero it. */
        .data
        .align 8
gdt:    .quad 0
        .quad 0x00cf9a000000ffff        /* 0x08: code, base 0, 4 GiB, 32-bit */
        .quad 0x00cf92000000ffff        /* 0x10: data, base 0, 4 GiB */
gdt_end:
gdt_desc:
        .word gdt_end - gdt - 1
        .long gdt
idt_desc:
        .word IDT_ENTRIES * 8 - 1
        .long idt
ticks:  .long 0
resume: .long 0
        .align 8
idt:    .fill IDT_ENTRIES * 8, 1, 0
        .align 16
        .fill 4096, 1, 0
stack_top:
