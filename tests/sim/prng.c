/* splitmix64: small, fast, and the same stream on every platform, which is
 * what makes --seed reproducible (rand() is neither). */
#include "sim.h"

void prng_init(struct prng *p, uint64_t seed)
{
    p->state = seed;
}

uint64_t prng_next(struct prng *p)
{
    uint64_t z = (p->state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

double prng_unit(struct prng *p)
{
    /* the top 53 bits fill a double's mantissa exactly */
    return (double)(prng_next(p) >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t prng_below(struct prng *p, uint32_t n)
{
    if (n == 0)
        return 0;
    /* the modulo bias is below 2^-32 for the small n used here */
    return (uint32_t)(prng_next(p) % n);
}
