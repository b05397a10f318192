/* Serial output (COM1, polling LSR.THRE) and a small printf: flags '-',
 * '0', '#', a width, the l/ll/z length modifiers and d i u x X p s c %. */
#include "guest.h"

struct spinlock print_lock = { 0, -1, 0 };

void putchar_serial(char c)
{
	if (c == '\n')
		putchar_serial('\r');
	for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		;
	outb(COM1, (uint8_t)c);
}

struct sink {
	char *buf;      /* NULL: serial */
	size_t size, len;
};

static void emit(struct sink *s, char c)
{
	if (!s->buf)
		putchar_serial(c);
	else if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void emit_number(struct sink *s, uint64_t v, unsigned base, int upper, int neg,
			int width, char pad, int left, const char *prefix)
{
	char tmp[24];
	int n = 0;
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + neg + (int)strlen(prefix);
	if (!left && pad == ' ')
		for (; len < width; width--)
			emit(s, ' ');
	if (neg)
		emit(s, '-');
	for (; *prefix; prefix++)
		emit(s, *prefix);
	if (!left && pad == '0')
		for (; len < width; width--)
			emit(s, '0');
	while (n)
		emit(s, tmp[--n]);
	if (left)
		for (; len < width; width--)
			emit(s, ' ');
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			emit(s, *fmt);
			continue;
		}
		int left = 0, alt = 0, width = 0, lng = 0;
		char pad = ' ';
		for (;; fmt++) {
			if (fmt[1] == '-')
				left = 1;
			else if (fmt[1] == '0')
				pad = '0';
			else if (fmt[1] == '#')
				alt = 1;
			else
				break;
		}
		while (fmt[1] >= '0' && fmt[1] <= '9')
			width = width * 10 + (*++fmt - '0');
		while (fmt[1] == 'l' || fmt[1] == 'z') {
			lng = 1;
			fmt++;
		}
		char conv = *++fmt;
		uint64_t u;
		int64_t d;
		switch (conv) {
		case 'd':
		case 'i':
			d = lng ? va_arg(ap, long) : va_arg(ap, int);
			emit_number(s, d < 0 ? -(uint64_t)d : (uint64_t)d, 10, 0, d < 0, width, pad, left, "");
			break;
		case 'u':
			u = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			emit_number(s, u, 10, 0, 0, width, pad, left, "");
			break;
		case 'x':
		case 'X':
			u = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			emit_number(s, u, 16, conv == 'X', 0, width, pad, left, alt ? "0x" : "");
			break;
		case 'p':
			u = (uint64_t)(uintptr_t)va_arg(ap, void *);
			emit_number(s, u, 16, 0, 0, width, pad, left, "0x");
			break;
		case 'c':
			emit(s, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int len = (int)strlen(str);
			if (!left)
				for (; len < width; width--)
					emit(s, ' ');
			while (*str)
				emit(s, *str++);
			if (left)
				for (; len < width; width--)
					emit(s, ' ');
			break;
		}
		case '%':
			emit(s, '%');
			break;
		case '\0':
			return;
		default:
			emit(s, '%');
			emit(s, conv);
			break;
		}
	}
}

int vprintf(const char *fmt, va_list ap)
{
	struct sink s = { 0, 0, 0 };
	spin_lock(&print_lock);
	format(&s, fmt, ap);
	spin_unlock(&print_lock);
	return (int)s.len;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
	struct sink s = { buf, n, 0 };
	va_list ap;
	va_start(ap, fmt);
	format(&s, fmt, ap);
	va_end(ap);
	if (n)
		buf[s.len < n ? s.len : n - 1] = '\0';
	return (int)s.len;
}
