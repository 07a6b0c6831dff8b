from django.core.paginator import Paginator


class ForgivingPaginator(Paginator):
    """``?page=abc`` or a page past the end shows the nearest valid page, never an error.

    ``count``, when the caller already knows it, saves the paginator's COUNT query.
    """

    def __init__(self, object_list, per_page, *, count=None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        if count is not None:
            self.__dict__["count"] = count  # fills Paginator.count, a cached_property

    def validate_number(self, number):
        try:
            number = int(number)
        except (TypeError, ValueError):
            return 1
        return min(max(number, 1), self.num_pages)
