"""moto's server, with one fix so that the Rust SDK can read S3 Control's replies.

AWS roots an S3 Control reply at `<OperationResult>` (e.g. `<GetAccessPointPolicyResult>`,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_GetAccessPointPolicy.html); moto 5
roots it at `<OperationResponse>`. boto3 does not check the root element, the Rust SDK does and
refuses the reply ("encountered invalid XML root"). This wraps moto's WSGI app and renames the
root of successful S3 Control replies (paths under /v20180820/); errors (`<ErrorResponse>`) are
left as they are.

Second fix: the Rust SDK's CloudTrail client sends `X-Amz-Target: CloudTrail_20131101.<Op>` (the
Smithy service name, which AWS accepts); moto routes by botocore's longer target prefix
`com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101` and answers 404 to the short one. The
header is rewritten to the long form before moto sees it (moto does not check signatures).

Everything else is moto's own server, started with the same arguments.
"""
import re

from moto import server

_ROOT = re.compile(rb'<(\w+)Response( xmlns="http://awss3control\.amazonaws\.com/doc/2018-08-20/")')


class S3ControlResultRoots:
    def __init__(self, app):
        self.app = app

    def __getattr__(self, name):
        return getattr(self.app, name)

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("CloudTrail_20131101."):
            environ["HTTP_X_AMZ_TARGET"] = "com.amazonaws.cloudtrail.v20131101." + target
        if not environ.get("PATH_INFO", "").startswith("/v20180820/"):
            return self.app(environ, start_response)
        seen = {}

        def capture(status, headers, exc_info=None):
            seen["reply"] = (status, headers, exc_info)
            return lambda _data: None

        body = b"".join(self.app(environ, capture))
        m = _ROOT.search(body)
        if m and m.group(1) != b"Error":
            op = m.group(1)
            body = body.replace(b"<" + op + b"Response ", b"<" + op + b"Result ", 1)
            body = body.replace(b"</" + op + b"Response>", b"</" + op + b"Result>", 1)
        status, headers, exc_info = seen["reply"]
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
        start_response(status, headers, exc_info)
        return [body]


_dispatcher = server.DomainDispatcherApplication
server.DomainDispatcherApplication = lambda create_app: S3ControlResultRoots(_dispatcher(create_app))

if __name__ == "__main__":
    server.main()
