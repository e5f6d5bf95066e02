/*
 * test_units.c: unit test of the quantity parser of the "Host Power"
 * virsh commands (virsh-power-units.c)
 *
 * Copyright (C) 2026 The libvirt-power authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Lesser General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 *
 * This library is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
 * Lesser General Public License for more details.
 *
 * You should have received a copy of the GNU Lesser General Public
 * License along with this library.  If not, see
 * <http://www.gnu.org/licenses/>.
 *
 * Build and run from the top of the repository:
 *
 *   gcc -std=gnu99 -Wall -Wextra -Werror -Ibuild/libvirt-src \
 *       -Ibuild/libvirt-build -Ibuild/libvirt-src/src \
 *       -Ibuild/libvirt-src/src/util -Ibuild/libvirt-src/include \
 *       -Ibuild/libvirt-build/include \
 *       virsh-ext/test_units.c virsh-ext/virsh-power-units.c \
 *       $(pkg-config --cflags --libs glib-2.0) -o /tmp/test_units \
 *   && /tmp/test_units
 */

#include <config.h>

#include "virsh-power-units.h"
#include "internal.h"

typedef struct {
    const char *str;
    virshPowerQuantity quantity;
    virshPowerParseResult result;
    unsigned long long value;   /* expected value when result is OK */
} testCase;

#define FREQ VIRSH_POWER_QUANTITY_FREQUENCY
#define POWER VIRSH_POWER_QUANTITY_POWER
#define TIME VIRSH_POWER_QUANTITY_TIME

#define OK(str, quantity, value) \
    { str, quantity, VIRSH_POWER_PARSE_OK, value }
#define BAD(str, quantity, result) \
    { str, quantity, VIRSH_POWER_PARSE_ ## result, 0 }

static const testCase cases[] = {
    /* frequencies, kHz */
    OK("2400000", FREQ, 2400000ULL),
    OK("2400000kHz", FREQ, 2400000ULL),
    OK("2400MHz", FREQ, 2400000ULL),
    OK("2.4GHz", FREQ, 2400000ULL),
    OK("2.4ghz", FREQ, 2400000ULL),
    OK("2.4GHZ", FREQ, 2400000ULL),
    OK("2400KHZ", FREQ, 2400ULL),
    BAD("2400mhz", FREQ, AMBIGUOUS),
    BAD("2400mHz", FREQ, AMBIGUOUS),
    OK("2400MHZ", FREQ, 2400000ULL),
    OK("2.4 GHz", FREQ, 2400000ULL),
    OK(" 2.4GHz ", FREQ, 2400000ULL),
    OK("2.101GHz", FREQ, 2101000ULL),
    OK("1.000001GHz", FREQ, 1000001ULL),
    OK("1.0000010GHz", FREQ, 1000001ULL),
    OK("0.8GHz", FREQ, 800000ULL),
    OK(".8GHz", FREQ, 800000ULL),
    OK("800.GHz", FREQ, 800000000ULL),
    OK("1.5MHz", FREQ, 1500ULL),
    OK("1.0", FREQ, 1ULL),
    OK("0", FREQ, 0ULL),
    OK("007", FREQ, 7ULL),
    OK("18446744073709551615", FREQ, 18446744073709551615ULL),
    OK("18446744073709551615kHz", FREQ, 18446744073709551615ULL),
    OK("18446744073709.551615GHz", FREQ, 18446744073709551615ULL),
    OK("00000000000000000000000000001", FREQ, 1ULL),
    BAD("", FREQ, MALFORMED),
    BAD("   ", FREQ, MALFORMED),
    BAD(".", FREQ, MALFORMED),
    BAD("GHz", FREQ, MALFORMED),
    BAD("abc", FREQ, MALFORMED),
    BAD("+1", FREQ, MALFORMED),
    BAD("1..2GHz", FREQ, MALFORMED),
    BAD("1.2.3", FREQ, MALFORMED),
    BAD("2.4GHz5", FREQ, MALFORMED),
    BAD("2.4 G Hz", FREQ, MALFORMED),
    BAD("1e6", FREQ, MALFORMED),
    BAD("0x10", FREQ, MALFORMED),
    BAD("1,5GHz", FREQ, MALFORMED),
    BAD("-1", FREQ, NEGATIVE),
    BAD("-2.4GHz", FREQ, NEGATIVE),
    BAD(" -0", FREQ, NEGATIVE),
    BAD("2.4THz", FREQ, UNIT),
    BAD("2400Hz", FREQ, UNIT),
    BAD("15W", FREQ, UNIT),
    BAD("1.5", FREQ, PRECISION),
    BAD("1.5kHz", FREQ, PRECISION),
    BAD("1.0000001GHz", FREQ, PRECISION),
    BAD("18446744073709551616", FREQ, OVERFLOW),
    BAD("99999999999999999999", FREQ, OVERFLOW),
    BAD("18446744073710GHz", FREQ, OVERFLOW),
    BAD("18446744073709.551616GHz", FREQ, OVERFLOW),
    BAD("18446744073709552MHz", FREQ, OVERFLOW),

    /* powers, uW */
    OK("15000000", POWER, 15000000ULL),
    OK("15000000uW", POWER, 15000000ULL),
    OK("15000mW", POWER, 15000000ULL),
    OK("15W", POWER, 15000000ULL),
    OK("15w", POWER, 15000000ULL),
    OK("0.5W", POWER, 500000ULL),
    OK("250mW", POWER, 250000ULL),
    OK("0.000001W", POWER, 1ULL),
    OK("18446744073709.551615W", POWER, 18446744073709551615ULL),
    BAD("0.0000001W", POWER, PRECISION),
    BAD("1.5uW", POWER, PRECISION),
    BAD("15kW", POWER, UNIT),
    BAD("15 Watts", POWER, UNIT),
    BAD("2.4GHz", POWER, UNIT),
    BAD("-15W", POWER, NEGATIVE),
    BAD("18446744073710W", POWER, OVERFLOW),
    BAD("W", POWER, MALFORMED),
    /* case: m is milli, M is mega; where case changes the meaning the
     * unit must be written as accepted */
    BAD("15MW", POWER, AMBIGUOUS),
    BAD("15Mw", POWER, AMBIGUOUS),
    OK("15mw", POWER, 15000ULL),
    OK("15UW", POWER, 15ULL),

    /* times, us */
    OK("1000", TIME, 1000ULL),
    OK("1000us", TIME, 1000ULL),
    OK("10ms", TIME, 10000ULL),
    OK("2.44ms", TIME, 2440ULL),
    OK("1s", TIME, 1000000ULL),
    OK("28S", TIME, 28000000ULL),
    BAD("10MS", TIME, AMBIGUOUS),
    BAD("10Ms", TIME, AMBIGUOUS),
    OK("10mS", TIME, 10000ULL),
    OK("10US", TIME, 10ULL),
    OK("0.000976s", TIME, 976ULL),
    BAD("1min", TIME, UNIT),
    BAD("1h", TIME, UNIT),
    BAD("0.5us", TIME, PRECISION),
    BAD("-1s", TIME, NEGATIVE),
    BAD("18446744073710s", TIME, OVERFLOW),
    BAD("1s1", TIME, MALFORMED),
};


static const char *
resultName(virshPowerParseResult result)
{
    switch (result) {
    case VIRSH_POWER_PARSE_OK:
        return "OK";
    case VIRSH_POWER_PARSE_MALFORMED:
        return "MALFORMED";
    case VIRSH_POWER_PARSE_NEGATIVE:
        return "NEGATIVE";
    case VIRSH_POWER_PARSE_UNIT:
        return "UNIT";
    case VIRSH_POWER_PARSE_PRECISION:
        return "PRECISION";
    case VIRSH_POWER_PARSE_OVERFLOW:
        return "OVERFLOW";
    case VIRSH_POWER_PARSE_AMBIGUOUS:
        return "AMBIGUOUS";
    case VIRSH_POWER_PARSE_LAST:
        break;
    }
    return "?";
}


int
main(void)
{
    size_t i;
    size_t failed = 0;
    const unsigned long long untouched = 4242;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        const testCase *tc = &cases[i];
        unsigned long long value = untouched;
        virshPowerParseResult result;

        result = virshPowerParseQuantity(tc->str, tc->quantity, &value);

        if (result != tc->result) {
            fprintf(stderr, "FAIL '%s': got %s, expected %s\n",
                    tc->str, resultName(result), resultName(tc->result));
            failed++;
        } else if (result == VIRSH_POWER_PARSE_OK && value != tc->value) {
            fprintf(stderr, "FAIL '%s': got %llu, expected %llu\n",
                    tc->str, value, tc->value);
            failed++;
        } else if (result != VIRSH_POWER_PARSE_OK && value != untouched) {
            fprintf(stderr, "FAIL '%s': value changed on error\n", tc->str);
            failed++;
        }
    }

    if (virshPowerParseQuantity(NULL, FREQ, NULL) != VIRSH_POWER_PARSE_MALFORMED) {
        fprintf(stderr, "FAIL NULL string accepted\n");
        failed++;
    }

    if (STRNEQ(virshPowerQuantityBaseUnit(FREQ), "kHz") ||
        STRNEQ(virshPowerQuantityBaseUnit(POWER), "uW") ||
        STRNEQ(virshPowerQuantityBaseUnit(TIME), "us") ||
        virshPowerQuantityBaseUnit(VIRSH_POWER_QUANTITY_LAST) != NULL) {
        fprintf(stderr, "FAIL base units\n");
        failed++;
    }

    printf("%zu of %zu cases passed\n",
           G_N_ELEMENTS(cases) + 2 - failed, G_N_ELEMENTS(cases) + 2);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
