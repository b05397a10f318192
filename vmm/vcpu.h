/* vCPU threads: one host thread per vCPU, running the accelerator and
 * serving its exits from the shared buses. */
#ifndef WISP_VCPU_H
#define WISP_VCPU_H

#include "vm.h"

/* Serve a port-I/O or MMIO exit from the VM's buses. Backends whose exits
 * come back through vcpu_run get this from the vCPU loop; the software
 * core calls it directly from inside an instruction. */
void vcpu_serve_io(struct vcpu *vcpu, struct vcpu_exit *exit);

/* Start a thread for every vCPU. 0 or an exit status after a message. */
int vcpus_start(struct vm *vm);

/* Kick every vCPU out of the guest and join its thread. */
void vcpus_stop(struct vm *vm);

#endif
