"""The bilingual PDF receipt of a sent form (the person's language and Polish), made with WeasyPrint
from templates/forms/receipt.html. The fonts are embedded: DejaVu for Latin and Cyrillic, Noto for Georgian,
Devanagari and Arabic (Debian's fonts-dejavu-core and fonts-noto-core); Arabic receipts run right to left."""

from __future__ import annotations

from app.config import Settings
from app.forms import service
from app.forms.models import FormSubmission
from app.i18n import _, format_datetime, text_direction, use_locale
from app.web import environment


def _labels() -> dict[str, str]:
    return {
        "receipt": _("Receipt of a sent form"),
        "case_number": _("Case number"),
        "sent_at": _("Sent on"),
        "office": _("Handled by"),
        "version": _("Form and version"),
        "answers": _("Your answers"),
        "legal_basis": _("Legal basis"),
        "note": _(
            "This receipt confirms that the form was received. The answers in Polish are the ones the "
            "office reads; answers you typed yourself are shown as you wrote them."
        ),
    }


def receipt_html(*, settings: Settings, submission: FormSubmission, locale: str) -> str:
    """Return the receipt of a sent form as HTML, in locale and in Polish."""
    form = service.form_of(settings=settings, submission=submission)
    answers = service.answers_of(settings=settings, submission=submission)
    sent = submission.submitted_at or submission.updated_at
    with use_locale(locale):
        mine = _labels()
        sent_mine = format_datetime(sent, "long")
    with use_locale(service.SOURCE_LOCALE):
        polish = _labels()
        sent_pl = format_datetime(sent, "long")
    context = {
        "locale": locale,
        "dir": text_direction(locale),
        "bilingual": locale != service.SOURCE_LOCALE,
        "form": form,
        "case": submission.case,
        "labels": {key: (mine[key], polish[key]) for key in mine},
        "sent_at": (sent_mine, sent_pl),
        "rows": service.answer_rows(form, answers, locale),
        "t": lambda text: service.form_text(text, locale),
    }
    with use_locale(locale):
        env = environment(str(settings.template_path), str(settings.locale_path))
        return env.get_template("forms/receipt.html").render(**context)


def receipt_pdf(*, settings: Settings, submission: FormSubmission, locale: str) -> bytes:
    """Return the PDF receipt of a sent form, in locale and in Polish."""
    from weasyprint import HTML  # heavy (Pango, fonts): loaded when the first receipt is made

    html = receipt_html(settings=settings, submission=submission, locale=locale)
    return HTML(string=html, base_url=str(settings.template_path)).write_pdf()
