#ifndef LSTMD_CSYSTEMD_SHIM_H
#define LSTMD_CSYSTEMD_SHIM_H

// Only the `Systemd` Swift module imports this header.
//
// The Swift side uses the non-variadic entry points only: `sd_notify` (one preformatted state
// string) and `sd_journal_sendv` (an array of iovecs). `sd_notifyf`, `sd_journal_send` and
// `sd_journal_print` are variadic and Swift cannot import them.
//
// Without this define, sd-journal.h turns `sd_journal_sendv` into a macro that stamps every entry
// with CODE_FILE/CODE_LINE of this header. The Swift log handler passes the caller's own
// CODE_FILE, CODE_LINE and CODE_FUNC fields instead.
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
