"""HTTP downloads for the dataset builders, retried."""

import time
import urllib.error
import urllib.request


class FetchError(Exception):
  """A URL that could not be fetched; the message is a short reason."""


def fetch_bytes(url: str, retries: int = 3, timeout: float = 30.0) -> bytes:
  """The body of `url`, retried with backoff on transient errors.

  Raises:
    FetchError: a dead link (404, 410: not retried), an empty body, or the
      last transient error (timeouts, resets, 5xx).
  """
  error = ''
  for attempt in range(retries + 1):
    try:
      request = urllib.request.Request(url, headers={'User-Agent': 'colorjax'})
      with urllib.request.urlopen(request, timeout=timeout) as response:
        data = response.read()
      if not data:
        raise FetchError('empty response')
      return data
    except urllib.error.HTTPError as e:
      error = f'HTTP {e.code}'
      if e.code in (404, 410):  # Dead link: retrying will not help.
        break
    except FetchError as e:
      error = str(e)
    except Exception as e:  # noqa: BLE001  (timeouts, resets, DNS...)
      error = type(e).__name__
    if attempt < retries:
      time.sleep(min(0.2 * 2**attempt, 5.0))
  raise FetchError(error)

