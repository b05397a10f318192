#include "accel.h"

#include <stdio.h>

#include "log.h"

const char *accel_choice_name(enum accel_choice choice)
{
	switch (choice) {
	case ACCEL_AUTO: return "auto";
	case ACCEL_KVM: return "kvm";
	case ACCEL_EMU: return "emu";
	}
	return "?";
}

const struct accel_ops *accel_select(enum accel_choice choice)
{
	char why[512];

	switch (choice) {
	case ACCEL_KVM:
		if (!kvm_usable(why, sizeof(why))) {
			log_error("--accel kvm: %s", why);
			return NULL;
		}
		return &kvm_accel_ops;
	case ACCEL_EMU:
		return &emu_accel_ops;
	case ACCEL_AUTO:
		if (!kvm_usable(why, sizeof(why))) {
			log_info("accel: emu, the software core (%s)", why);
			return &emu_accel_ops;
		}
		if (kvm_runs_guests_natively(why, sizeof(why))) {
			log_info("accel: kvm (%s)", why);
			return &kvm_accel_ops;
		}
		log_info("accel: emu, the software core (%s)", why);
		return &emu_accel_ops;
	}
	return NULL;
}
