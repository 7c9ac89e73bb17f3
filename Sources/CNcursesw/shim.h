// The only C header Tollgate includes: ncursesw with wide-character functions, plus setlocale.
#ifndef TOLLGATE_CNCURSESW_SHIM_H
#define TOLLGATE_CNCURSESW_SHIM_H
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <wchar.h>
#include <ncursesw/curses.h>
#endif
