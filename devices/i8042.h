/* An i8042 keyboard controller with nothing plugged in: enough for a
 * guest's driver to probe it, find no mouse port and no keyboard, and to
 * reset the machine through it (command 0xFE, or the output port's reset
 * bit), which is how PCs traditionally reboot. Ports 0x60 and 0x64. */
#ifndef WISP_DEVICES_I8042_H
#define WISP_DEVICES_I8042_H

struct platform;
struct i8042;

/* Returns NULL after logging why. */
struct i8042 *i8042_create(struct platform *p);
void i8042_destroy(struct i8042 *k);

#endif
