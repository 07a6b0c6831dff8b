from django.core.paginator import Paginator


class ForgivingPaginator(Paginator):
    """``?page=abc`` or a page past the end shows the nearest valid page, never an error."""

    def validate_number(self, number):
        try:
            number = int(number)
        except (TypeError, ValueError):
            return 1
        return min(max(number, 1), self.num_pages)
