# Django's English formats, except the long date and date-time the site has always shown.
DATE_FORMAT = "F j, Y"
DATETIME_FORMAT = r"F j, Y \a\t g:i a"
