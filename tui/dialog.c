/*
 * dialog.c - the console's questions: a prompt on the footer line, a menu
 * or a confirmation over the body.  One dialog at a time (struct
 * tui_dialog in struct tui); see tui.h for the done/cancel contract.
 *
 * A prompt is edited with the manager's line editor (the ':' line's keys:
 * Backspace, ^U, Esc, Enter); its title is the prompt text, and an answer
 * that done() refuses stays on the line with the reason after it in the
 * critical colour, so a bad duration or an input that fails its pattern
 * is fixed in place.  A menu moves with j/k and the arrows, Enter chooses,
 * Esc backs out.  A confirmation has two buttons, Cancel first and
 * selected: Enter on it (the default) cancels; Tab, h/l or the arrows move
 * to the OK button, and only Enter there calls done().  No single key
 * confirms, so a key hit by reflex cannot change the fleet.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tui.h"

static void
tui_dialog_reset(struct tui *t)
{
	size_t i;

	for (i = 0; i < t->dialog.nlines; i++)
		free(t->dialog.lines[i]);
	free(t->dialog.lines);
	memset(&t->dialog, 0, sizeof t->dialog);
}

/* Frees what an open dialog holds, calling its cancel (console exit). */
void
tui_dialog_free(struct tui *t)
{
	tui_dialog_dismiss(t);
}

bool
tui_dialog_open(const struct tui *t)
{
	return t->dialog.kind != TUI_DLG_NONE;
}

static void
tui_dialog_begin(struct tui *t, enum tui_dialog_kind kind, const char *title,
    char **lines, size_t n, tui_dialog_done done, tui_dialog_cancel cancel,
    void *arg)
{
	tui_dialog_reset(t);
	t->dialog.kind = kind;
	snprintf(t->dialog.title, sizeof t->dialog.title, "%s", title);
	t->dialog.lines = lines;
	t->dialog.nlines = n;
	t->dialog.done = done;
	t->dialog.cancel = cancel;
	t->dialog.arg = arg;
	t->help = false;
	tui_mark_dirty(t);
}

/*
 * Asks a question on the footer line, with def (may be NULL) as the text
 * to edit.  The manager's line editor runs it (TUI_MODE_PROMPT).
 */
void
tui_prompt(struct tui *t, const char *title, const char *def,
    tui_dialog_done done, tui_dialog_cancel cancel, void *arg)
{
	tui_dialog_begin(t, TUI_DLG_PROMPT, title, NULL, 0, done, cancel, arg);
	t->mode = TUI_MODE_PROMPT;
	snprintf(t->line, sizeof t->line, "%s", def != NULL ? def : "");
	t->linelen = strlen(t->line);
	t->line_err[0] = '\0';
}

/* A menu of n items (owned by the dialog from now on). */
void
tui_menu(struct tui *t, const char *title, char **items, size_t n,
    tui_dialog_done done, tui_dialog_cancel cancel, void *arg)
{
	tui_dialog_begin(t, TUI_DLG_MENU, title, items, n, done, cancel, arg);
}

/* A confirmation: title, n lines of text (owned from now on), Cancel / ok. */
void
tui_confirm(struct tui *t, const char *title, char **lines, size_t n,
    const char *ok, tui_dialog_done done, tui_dialog_cancel cancel, void *arg)
{
	tui_dialog_begin(t, TUI_DLG_CONFIRM, title, lines, n, done, cancel,
	    arg);
	snprintf(t->dialog.ok, sizeof t->dialog.ok, "%s", ok);
	t->dialog.sel = 0;
}

/* Backs out of the open dialog: its cancel runs, nothing else. */
void
tui_dialog_dismiss(struct tui *t)
{
	tui_dialog_cancel cancel = t->dialog.cancel;
	void *arg = t->dialog.arg;
	bool open = tui_dialog_open(t);

	if (t->mode == TUI_MODE_PROMPT)
		t->mode = TUI_MODE_VIEW;
	tui_dialog_reset(t);
	if (open && cancel != NULL)
		cancel(t, arg);
	tui_mark_dirty(t);
}

/*
 * The open dialog was answered (the prompt's text, the menu's item, the
 * confirmation's OK).  The dialog is closed before done() runs, so done
 * may open the next one.  Returns done's result; on -1 a prompt is opened
 * again with the same text (the caller shows err), anything else is
 * cancelled.
 */
int
tui_dialog_answer(struct tui *t, const char *text, struct nx_err *err)
{
	struct tui_dialog d = t->dialog;
	char answer[TUI_LINE_MAX];
	int rc;

	/* done() may open the next prompt, which reuses t->line. */
	snprintf(answer, sizeof answer, "%s", text);
	memset(&t->dialog, 0, sizeof t->dialog);
	if (t->mode == TUI_MODE_PROMPT)
		t->mode = TUI_MODE_VIEW;
	rc = d.done(t, d.arg, answer, d.sel, err);
	if (rc != 0 && d.kind == TUI_DLG_PROMPT && !tui_dialog_open(t)) {
		/* A prompt whose answer was refused: ask again, in place. */
		t->dialog = d;
		t->mode = TUI_MODE_PROMPT;
		snprintf(t->line, sizeof t->line, "%s", answer);
		t->linelen = strlen(t->line);
		snprintf(t->line_err, sizeof t->line_err, "%s", err->msg);
		tui_mark_dirty(t);
		return rc;
	}
	while (d.nlines > 0)
		free(d.lines[--d.nlines]);
	free(d.lines);
	if (rc != 0 && d.cancel != NULL)
		d.cancel(t, d.arg);
	tui_mark_dirty(t);
	return rc;
}

/* A key while a menu or a confirmation is up. */
void
tui_dialog_key(struct tui *t, const struct tui_input *in)
{
	struct tui_dialog *d = &t->dialog;
	struct nx_err err;
	bool enter = (in->keycode && in->ch == KEY_ENTER) ||
	    (!in->keycode && (in->ch == '\r' || in->ch == '\n'));
	int page = t->body != NULL ? getmaxy(t->body) - 6 : 1;

	tui_mark_dirty(t);
	if (!in->keycode && (in->ch == TUI_KEY_ESC || in->ch == 'q')) {
		tui_dialog_dismiss(t);
		return;
	}
	if (d->kind == TUI_DLG_MENU) {
		if ((in->keycode && in->ch == KEY_DOWN) ||
		    (!in->keycode && in->ch == 'j')) {
			if (d->sel + 1 < d->nlines)
				d->sel++;
		} else if ((in->keycode && in->ch == KEY_UP) ||
		    (!in->keycode && in->ch == 'k')) {
			if (d->sel > 0)
				d->sel--;
		} else if ((in->keycode && in->ch == KEY_HOME) ||
		    (!in->keycode && in->ch == 'g'))
			d->sel = 0;
		else if ((in->keycode && in->ch == KEY_END) ||
		    (!in->keycode && in->ch == 'G'))
			d->sel = d->nlines ? d->nlines - 1 : 0;
		else if (enter && d->nlines > 0) {
			if (tui_dialog_answer(t, "", &err) != 0)
				tui_message(t, true, "%s", err.msg);
			return;
		}
		if (page < 1)
			page = 1;
		if (d->sel < d->top)
			d->top = d->sel;
		if (d->sel >= d->top + (size_t)page)
			d->top = d->sel - (size_t)page + 1;
		return;
	}
	/* The confirmation. */
	if ((!in->keycode && (in->ch == '\t' || in->ch == 'h' ||
	    in->ch == 'l')) || (in->keycode && (in->ch == KEY_LEFT ||
	    in->ch == KEY_RIGHT || in->ch == KEY_BTAB)))
		d->sel = !d->sel;
	else if (enter) {
		if (d->sel == 0)
			tui_dialog_dismiss(t);
		else if (tui_dialog_answer(t, "", &err) != 0)
			tui_message(t, true, "%s", err.msg);
	}
}

/* Draws the open menu or confirmation in a box over the body. */
void
tui_dialog_draw(struct tui *t, WINDOW *w)
{
	struct tui_dialog *d = &t->dialog;
	int maxy = getmaxy(w), maxx = getmaxx(w), width, height, y0, x0, y, x;
	size_t i, shown;
	char buf[64];
	attr_t frame = t->theme.colhdr;

	if (d->kind != TUI_DLG_MENU && d->kind != TUI_DLG_CONFIRM)
		return;
	width = maxx - 8 < 100 ? maxx - 8 : 100;
	if (width < 20)
		width = maxx;
	shown = d->nlines;
	height = (int)shown + (d->kind == TUI_DLG_CONFIRM ? 6 : 4);
	if (height > maxy)
		height = maxy;
	shown = (size_t)(height - (d->kind == TUI_DLG_CONFIRM ? 6 : 4));
	y0 = (maxy - height) / 2;
	x0 = (maxx - width) / 2;
	for (y = 0; y < height; y++)
		tui_print(t, w, y0 + y, x0, width, A_NORMAL, "", 0);
	tui_print(t, w, y0, x0, width, frame, "", 0);
	tui_print(t, w, y0, x0 + 1, width - 2, frame, d->title,
	    strlen(d->title));
	for (i = 0; i < shown && d->top + i < d->nlines; i++) {
		const char *s = d->lines[d->top + i];
		bool sel = d->kind == TUI_DLG_MENU && d->top + i == d->sel;

		y = y0 + 2 + (int)i;
		if (sel)
			tui_print(t, w, y, x0 + 1, width - 2, t->theme.select,
			    "> ", 2);
		tui_print(t, w, y, x0 + 3, width - 4,
		    sel ? t->theme.select : A_NORMAL, s, strlen(s));
	}
	y = y0 + height - 2;
	if (d->kind == TUI_DLG_MENU) {
		snprintf(buf, sizeof buf, "j/k choose  Enter select  Esc back");
		tui_print(t, w, y, x0 + 2, width - 4, t->theme.dim, buf,
		    strlen(buf));
		return;
	}
	x = x0 + 2;
	x += tui_print(t, w, y, x, -1, d->sel == 0 ? t->theme.select :
	    A_NORMAL, "[ Cancel ]", 10);
	x += 3;
	snprintf(buf, sizeof buf, "[ %s ]", d->ok);
	x += tui_print(t, w, y, x, -1, d->sel == 1 ? t->theme.select :
	    A_NORMAL, buf, strlen(buf));
	snprintf(buf, sizeof buf, "   Tab switch  Enter choose  Esc cancel");
	tui_print(t, w, y, x, x0 + width - x, t->theme.dim, buf, strlen(buf));
}
