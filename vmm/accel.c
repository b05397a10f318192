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

static const char emu_missing[] =
	"the software CPU core (--accel emu) is not available yet in this version of wisp";

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
		log_error("--accel emu: %s", emu_missing);
		return NULL;
	case ACCEL_AUTO:
		if (!kvm_usable(why, sizeof(why))) {
			log_error("no backend can run this VM: %s, and %s", why, emu_missing);
			return NULL;
		}
		if (kvm_runs_guests_natively(why, sizeof(why))) {
			log_info("accel: kvm (%s)", why);
			return &kvm_accel_ops;
		}
		log_error("no backend can run this VM at a usable speed: %s; %s. "
			  "Use --accel kvm to run on this KVM anyway (fine for small test guests)",
			  why, emu_missing);
		return NULL;
	}
	return NULL;
}
