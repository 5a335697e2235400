"""AccessGuard's on-demand benchmark suite: ``python -m tests.bench --rows 1000000``.

Never part of the normal test run: no module here is named ``test_*``, so pytest collects
nothing from this package. Options: ``--small N`` (default 1000), ``--only FIGURE[,FIGURE]``,
``--no-postgres``, ``--json PATH`` (default ``tests/bench/results/<UTC time>.json``, every
raw sample), ``--cache DIR`` (default ``~/.cache/accessguard-bench`` or the platform's
cache directory), ``--presses N`` (timed presses per key, default 200). Exit status 0 when
every judged figure passes, 1 otherwise.

The databases (`tests.bench.databases`) are built with the real data core
(``Database.connect``, ``schema.upgrade``, ``seed.seed_demo``): ``--small`` and ``--rows``
users *and* products, plus 10,000 for the export figure. SQLite files are cached under
(head revision, rows, seed) and copied before anything writes to them; on PostgreSQL, when
it answers on 127.0.0.1:5432 and unless ``--no-postgres``, they are databases named
``ag_bench_<rows>_<revision>_s<seed>``, reused when complete. Every figure runs in one run
and prints one table: the value on the small and on the large database, a ratio, the target
and PASS/FAIL (``info`` rows are baselines). Distributions show p99 by nearest rank (never
interpolated) with the median and the sample count.

The figures (``--only`` names):

``keyset-page``
    `RecordTable.page` (the ORM path the console uses), 100 rows a page, for every sortable
    column of users and products, ascending and descending, at the first page, in the
    middle (``after=`` and ``before=`` a cursor found with an untimed OFFSET) and the last
    page (``from_end``); up to 100 timed rounds each (fewer, never under 5, when a case
    takes seconds). Worst p99 <= 2 ms; p99 last / p99 first <= 1.5 (large database).
``prefix-search``
    100 prefixes of 4-8 characters cut from stored emails, names and SKUs (fixed seed),
    searched as ``^prefix``; each first page timed once. p99 <= 2 ms, and at least 50x
    faster than a full scan of the same predicate (``lower(col) LIKE 'prefix%'`` with
    SQLite's ``NOT INDEXED`` / PostgreSQL's index scans off) timed in the same run. A
    search that returns nothing or rows that do not start with the prefix fails the figure:
    then the build does not do prefix search at all.
``substring-search``
    100 terms of 4-6 characters from inside stored values, plain search, first page p99
    <= 5 ms. A common two-letter term is shown on its own line as information.
``open-view``, ``key-repaint``
    The console headless at 120x40 in a child process (`tests.bench.driving`). A frame is
    timed when Textual hands it to the driver (``App._display``, wrapped; the headless
    driver skips the terminal encoding, so the wrapper does it, and only the final write
    is missing). Open a view: Users -> Products with ``2``, the first (cold) switch and 20
    warm ones, to the first frame showing Products rows: <= 50 ms, large/small <= 1.2.
    Key to repaint: 200 presses each of down, PgDn, G and g on Users, from just before the
    key reaches the driver to the first frame showing the expected row with its record;
    p99 <= 5 / 10 / 10 / 10 ms, large/small <= 1.2. Presses start from an idle console one
    frame period after the last frame, so Textual's frame-rate cap (60 a second) does not
    add a wait a person's key would not see.
``stall``
    A 10 ms ``set_interval`` in the console records its longest gap while the harness pages
    in key-repeat bursts, jumps to both ends, types a search, saves an edit through the
    form, and a thread of the same process exports every user and then imports 10,000 (the
    data core's functions), on a copy of the large database. Max gap <= 50 ms.
``memory``
    A fresh console process browses (PgDn x50, G, g, a search) and reports its peak RSS
    (VmHWM). Large/small <= 1.2 and <= 100 MB.
``startup``
    From spawn (the parent's clock, passed in the environment) to the first frame, and to
    the first frame with table rows, of the console started through ``tui.cli.main``, against
    a bare Textual app (a Header, one Static, a Footer) started the same way (headless
    driver from ``TEXTUAL_DRIVER``); 20 interleaved runs each after one untimed warm-up,
    medians, with the project's bytecode compiled first (as an installed wheel has it).
    First paint <= 1.2x the bare app's paint; first rows <= 1.2x the bare app's paint and
    1M/1k <= 1.2. An information row gives the same ratio round by round (each run over the
    bare app's run of its round, median), which a burst of load moves less; another gives
    the median moment of each step of the console's start (Textual imported, first paint,
    first rows, data core imported, database open, and the data core's own rows, which on
    SQLite replace the first page `data.first_page` read before the data core loaded: the
    child runs on until they are on screen).
``startup-terminal``
    The same start on a 120x40 pseudo-terminal, timed by the parent until a text appears
    in what each program writes: the bare app's Static, and the first user's name for the
    console (``python -m tui --db URL``, as an admin starts it) and for VisiData (``vd -N
    FILE +0:users::``, the same SQLite file's users table) when the ``bench`` extra is
    installed; 7 interleaved runs after one untimed run each, medians. Information only:
    the side-by-side the start-up issue asked for.
``export``
    ``tui.cli.main([... "export", "users", "-o", FILE])`` in a child on 10,000 and on the
    large number of users: its own peak RSS must stay flat (large/10k <= 1.2); seconds too.
``import``
    100,000 new users from one CSV through ``import_records`` (validated, audited) into a
    fresh copy of the large database, against stdlib sqlite3 parsing the same file and
    inserting the same rows with one ``executemany`` in one transaction into another fresh
    copy: <= 3x.
``import-memory``
    ``tui.cli.main([... "import", "users", FILE])`` in a child, once with ``--dry-run`` and
    once applying, for a CSV of ``--rows`` new users into an empty SQLite database at head:
    each child's own peak RSS (VmHWM) <= 300 MB; the ratio is the larger over 300 MB.
    Before the import streamed its file, a million rows took 1.5-2.2 GB.
``undo-import``
    100,000 new users imported through ``import_records`` into a copy of the large database,
    then undone through ``AuditLog.undo_plan`` / ``take_back`` while a colleague thread
    saves one record every 0.3 s: the undo <= 5x the import, and every colleague save done.
``live``
    A console on a pseudo-terminal (80x24) over a copy of each SQLite database. First its
    idle CPU: user + system time over 10 quiet seconds, in % of one core, < 1%. Then the
    data core in the benchmark's process renames user 1 thirty times, 0.1-1 s apart
    (never in step with the watcher's second). Change to screen: from just before the
    writer's commit until the new name is among the bytes the console wrote, p50 / p99,
    p99 < 2 s.

The SQLite-only figures (stall, memory, both start-ups, export, import, import-memory,
undo-import, live) write to their database or measure a whole process; the rest also run on
PostgreSQL. Machines are noisy: the results file keeps every sample and the load average, so
a FAIL can be told from a hiccup.
"""
