/* vigil-noop: a program that only exits 0, with no C library and no dynamic loader, so that an exec
 * storm measures the sensor and not ld.so: /bin/true costs ≈ 1 ms of CPU per exec (mapping libc,
 * relocations), which caps a two-core machine near 2,000 exec/s; this costs ≈ 0.1 ms. Built static
 * with -nostdlib; its argv (the storm's marker) is still read by the sensor from the process's memory. */
void _start(void) __attribute__((noreturn));

void _start(void)
{
#if defined(__x86_64__)
	__asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");
#elif defined(__aarch64__)
	__asm__ volatile("mov x8, #93\n\tmov x0, #0\n\tsvc #0");
#else
#error "vigil-noop: exit(0) is written for x86_64 and aarch64 only"
#endif
	__builtin_unreachable();
}
