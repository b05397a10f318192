#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "vmm/kvm_cpuid.h"

static struct kvm_cpuid2 *model(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 3 * sizeof(c->entries[0]));

	c->nent = 3;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 0x1, .ebx = 0xff0f0800,
						   .ecx = 0x1234, .edx = 0x10000000 };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1, .edx = 99 };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0x0, .eax = 0xd, .ebx = 0x68747541 };
	return c;
}

static void apic_id_count_and_hypervisor_bit(void **state)
{
	struct kvm_cpuid2 *c = model();

	kvm_cpuid_patch(c, 3, 4);
	assert_int_equal(c->entries[0].ebx >> 24, 3);
	assert_int_equal((c->entries[0].ebx >> 16) & 0xff, 4);
	assert_int_equal(c->entries[0].ebx & 0xffff, 0x0800);   /* CLFLUSH size kept */
	assert_true(c->entries[0].ecx & (1u << 31));
	assert_int_equal(c->entries[0].ecx & 0xffff, 0x1234);
	assert_true(c->entries[0].edx & (1u << 28));
	assert_int_equal(c->entries[1].edx, 3);
	assert_int_equal(c->entries[2].ebx, 0x68747541);         /* vendor untouched */
	free(c);
}

static void single_cpu_has_no_htt(void **state)
{
	struct kvm_cpuid2 *c = model();

	kvm_cpuid_patch(c, 0, 1);
	assert_int_equal(c->entries[0].ebx >> 24, 0);
	assert_false(c->entries[0].edx & (1u << 28));
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(apic_id_count_and_hypervisor_bit),
		cmocka_unit_test(single_cpu_has_no_htt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
