"""``/files/<token>/<name>``: files clients sent as bytes, served to Dify while its app reads them
(``relay.file_links``)."""

from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response

import relay.file_links


class FilesEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return relay.file_links.serve(self.session, r, values, settings)
