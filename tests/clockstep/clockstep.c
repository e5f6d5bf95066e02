/*
 * clockstep.c: an LD_PRELOAD library that steps a process's wall clock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tests load it into the daemon to see what a step of the wall
 * clock (NTP, an administrator's `date -s`) does to code that sleeps
 * until a wall-clock deadline, without touching the machine's clock.
 *
 * The file named by $CLOCKSTEP_FILE holds the step in seconds (e.g.
 * "-3600"; absent or empty means 0), read at every call, so a test steps
 * the clock of a running process by writing that file. The process then
 * sees CLOCK_REALTIME (clock_gettime, gettimeofday, time) moved by the
 * step, and a pthread_cond_timedwait deadline (a CLOCK_REALTIME deadline
 * unless the condition was set to another clock) is taken in that moved
 * time, as the kernel would after a real step. The monotonic clocks are
 * left alone, as a real step leaves them.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long
clockstep_seconds(void)
{
    const char *path = getenv("CLOCKSTEP_FILE");
    char buf[32];
    ssize_t n;
    int fd;

    if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtoll(buf, NULL, 10);
}


static int
clockstep_is_realtime(clockid_t clk)
{
    return clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE;
}


int
clock_gettime(clockid_t clk, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    int ret;

    if (!real)
        real = dlsym(RTLD_NEXT, "clock_gettime");
    ret = real(clk, ts);
    if (ret == 0 && clockstep_is_realtime(clk))
        ts->tv_sec += clockstep_seconds();
    return ret;
}


int
gettimeofday(struct timeval *tv, void *tz)
{
    static int (*real)(struct timeval *, void *);
    int ret;

    if (!real)
        real = dlsym(RTLD_NEXT, "gettimeofday");
    ret = real(tv, tz);
    if (ret == 0)
        tv->tv_sec += clockstep_seconds();
    return ret;
}


time_t
time(time_t *out)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}


int
pthread_cond_timedwait(pthread_cond_t *cond,
                       pthread_mutex_t *mutex,
                       const struct timespec *abstime)
{
    static int (*real)(pthread_cond_t *, pthread_mutex_t *,
                       const struct timespec *);
    struct timespec moved = *abstime;

    if (!real)
        real = dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2");
    if (!real)
        real = dlsym(RTLD_NEXT, "pthread_cond_timedwait");
    /* The caller computed @abstime on the stepped clock; the kernel
     * waits on the real one. */
    moved.tv_sec -= clockstep_seconds();
    return real(cond, mutex, &moved);
}
