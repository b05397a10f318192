#include "msi.h"

#include <stddef.h>

#define MSI_ADDR_DEST(a)    (((a) >> 12) & 0xFFu)
#define MSI_ADDR_LOGICAL    (1u << 2)
#define MSI_DATA_VECTOR(d)  ((d) & 0xFFu)
#define MSI_DATA_DELIVERY(d) (((d) >> 8) & 0x7u)
#define MSI_DATA_TRIGGER_LEVEL (1u << 15)

bool msi_decode(uint64_t address, uint32_t data, struct apic_msg *msg)
{
	unsigned delivery = MSI_DATA_DELIVERY(data);

	if ((address & MSI_ADDR_BASE_MASK) != MSI_ADDR_BASE)
		return false;
	switch (delivery) {
	case APIC_DELIVERY_FIXED:
	case APIC_DELIVERY_LOWEST:
	case APIC_DELIVERY_SMI:
	case APIC_DELIVERY_NMI:
	case APIC_DELIVERY_EXTINT:
		break;
	default:
		return false;
	}
	*msg = (struct apic_msg){
		.dest = (uint32_t)MSI_ADDR_DEST(address),
		.logical = (address & MSI_ADDR_LOGICAL) != 0,
		.vector = (uint8_t)MSI_DATA_VECTOR(data),
		.delivery_mode = (uint8_t)delivery,
		/* A message is an event: it always asserts. The trigger
		 * mode only decides whether the target expects an EOI
		 * broadcast; no IOAPIC pin answers one for an MSI. */
		.level = true,
		.trigger_level = (data & MSI_DATA_TRIGGER_LEVEL) != 0,
		.shorthand = APIC_SHORTHAND_NONE,
		.sender = NULL,
	};
	return true;
}
