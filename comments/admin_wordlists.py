"""The word lists in the admin: banned words (a match makes a comment spam) and suspect
words (a match holds it), added and deleted by moderators.

A word is stored as it is matched (``comments.wordlists.normalize_word``: NFKC, case
folded), so the list shows what the rules compare. Saving or deleting one gives the
lists a new version: the next post uses them, without a restart.
"""

from django import forms
from django.contrib import admin
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from comments import wordlists
from comments.models import ModerationWord


class ModerationWordForm(forms.ModelForm):
    class Meta:
        model = ModerationWord
        fields = ["word", "kind"]
        help_texts = {
            "word": _(
                "Matched as a whole word in the name, email, website and text of a comment, "
                "ignoring case and character width (“CASINO”, “Casino” and full-width "
                "letters match “casino”). End it with * to match every word that starts with "
                "it: “casino*” also matches “casinos”. Several words match in a row."
            ),
            "kind": _("Banned: the comment is marked as spam. Suspect: it waits for a moderator."),
        }

    def clean_word(self):
        word = wordlists.normalize_word(self.cleaned_data["word"])
        stem = word.rstrip(wordlists.PREFIX)
        if wordlists.PREFIX in stem:
            raise forms.ValidationError(
                _("Only a trailing * is allowed (“casino*”)."), code="inner_wildcard"
            )
        if len(word) - len(stem) > 1:
            raise forms.ValidationError(_("End the word with a single *."), code="wildcards")
        if not any(character.isalnum() for character in stem):
            raise forms.ValidationError(
                _("Enter a word with at least one letter or digit."), code="no_word"
            )
        return word


@admin.register(ModerationWord)
class ModerationWordAdmin(admin.ModelAdmin):
    form = ModerationWordForm
    list_display = ["word", "kind", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["word"]
    list_select_related = ["created_by"]
    readonly_fields = ["created_by", "created_at"]
    fields = ["word", "kind", "created_by", "created_at"]
    list_per_page = 200
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["word", "kind"]  # who and when are filled in on saving
        return super().get_fields(request, obj)

    def get_changeform_initial_data(self, request):
        """The list the moderator was looking at ("Add" from the list filtered on
        banned words adds a banned word)."""
        initial = super().get_changeform_initial_data(request)
        filters = QueryDict(request.GET.get("_changelist_filters", ""))
        if filters.get("kind__exact") in ModerationWord.Kind.values:
            initial.setdefault("kind", filters["kind__exact"])
        return initial

    def get_search_results(self, request, queryset, search_term):
        # The list holds words as they are matched: search for the same spelling.
        return super().get_search_results(
            request, queryset, wordlists.normalize_word(search_term).rstrip(wordlists.PREFIX)
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)  # wordlists.changed: a new version

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        wordlists.bump()  # whatever path the bulk delete took
