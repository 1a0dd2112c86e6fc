using System.Net;
using System.Text;
using ProxyScheduler.Classification;
using ProxyScheduler.Proxies;

namespace ProxyScheduler.Tests.Classification;

public sealed class DefaultResponseClassifierTests
{
    private static readonly ProxyEndpoint Proxy = ProxyEndpoint.Parse("http://10.0.0.1:8080");
    private static readonly Uri Target = new("http://a.test/");

    private static DefaultResponseClassifier CreateSut(params string[] markers)
    {
        var options = new ClassificationOptions();
        foreach (var marker in markers)
        {
            options.BlockMarkers.Add(marker);
        }

        return new DefaultResponseClassifier(options);
    }

    private static ResponseClass Classify(DefaultResponseClassifier sut, HttpStatusCode status, bool proxied = true, string body = "", Action<HttpResponseMessage>? configure = null)
    {
        using var response = new HttpResponseMessage(status);
        configure?.Invoke(response);
        return sut.Classify(new ResponseClassificationContext(Target, proxied ? Proxy : null, status, response.Headers, Encoding.UTF8.GetBytes(body), null));
    }

    private static ResponseClass Classify(DefaultResponseClassifier sut, Exception exception, bool proxied = true) =>
        sut.Classify(new ResponseClassificationContext(Target, proxied ? Proxy : null, null, null, ReadOnlyMemory<byte>.Empty, exception));

    [Theory]
    [InlineData(HttpStatusCode.OK, ResponseClass.Success)]
    [InlineData(HttpStatusCode.NotFound, ResponseClass.Success)]
    [InlineData(HttpStatusCode.Forbidden, ResponseClass.Blocked)]
    [InlineData(HttpStatusCode.TooManyRequests, ResponseClass.Throttled)]
    [InlineData(HttpStatusCode.ServiceUnavailable, ResponseClass.Throttled)]
    [InlineData(HttpStatusCode.InternalServerError, ResponseClass.TargetFailure)]
    [InlineData(HttpStatusCode.GatewayTimeout, ResponseClass.TargetFailure)]
    [InlineData(HttpStatusCode.RequestTimeout, ResponseClass.TargetFailure)]
    [InlineData(HttpStatusCode.NotImplemented, ResponseClass.Success)]
    [InlineData(HttpStatusCode.ProxyAuthenticationRequired, ResponseClass.ProxyFailure)]
    [InlineData(HttpStatusCode.BadGateway, ResponseClass.ProxyFailure)]
    public void Classify_StatusThroughAProxy(HttpStatusCode status, ResponseClass expected) =>
        Classify(CreateSut(), status).Should().Be(expected);

    [Fact]
    public void Classify_WithoutAProxy_ProxyStatusesAreTheTargets()
    {
        var sut = CreateSut();
        Classify(sut, HttpStatusCode.BadGateway, proxied: false).Should().Be(ResponseClass.TargetFailure);
        Classify(sut, new HttpRequestException(HttpRequestError.ConnectionError, "refused"), proxied: false).Should().Be(ResponseClass.TargetFailure);
    }

    [Fact]
    public void Classify_Unauthorized_IsAProxyFailureOnlyWithProxyAuthenticate()
    {
        var sut = CreateSut();
        Classify(sut, HttpStatusCode.Unauthorized).Should().Be(ResponseClass.Success, "a target's own 401 is its answer");
        Classify(sut, HttpStatusCode.Unauthorized, configure: r => r.Headers.ProxyAuthenticate.ParseAdd("Basic realm=\"proxy\""))
            .Should().Be(ResponseClass.ProxyFailure);
    }

    [Fact]
    public void Classify_FailuresReachingTheProxy_AreProxyFailures_ThoseAfterItTargetFailures()
    {
        var sut = CreateSut();
        Classify(sut, new HttpRequestException(HttpRequestError.ProxyTunnelError, "tunnel")).Should().Be(ResponseClass.ProxyFailure);
        Classify(sut, new HttpRequestException(HttpRequestError.ConnectionError, "refused")).Should().Be(ResponseClass.ProxyFailure);
        Classify(sut, new HttpRequestException(HttpRequestError.NameResolutionError, "no such proxy")).Should().Be(ResponseClass.ProxyFailure);
        Classify(sut, new IOException("reset")).Should().Be(ResponseClass.TargetFailure, "issue 16: a reset after the proxy took the request is not the proxy's by itself");
        Classify(sut, new HttpRequestException(HttpRequestError.ResponseEnded, "ended")).Should().Be(ResponseClass.TargetFailure);
        Classify(sut, new TimeoutException("attempt timeout")).Should().Be(ResponseClass.TargetFailure, "issue 16: a slow site is not the proxy's fault");
        Classify(sut, new InvalidOperationException("a bug")).Should().Be(ResponseClass.Fatal);
    }

    private static AttemptBlame Blame(HttpStatusCode? status, Exception? exception, bool proxied = true, Action<HttpResponseMessage>? configure = null)
    {
        var sut = CreateSut();
        using var response = new HttpResponseMessage(status ?? HttpStatusCode.OK);
        configure?.Invoke(response);
        var context = new ResponseClassificationContext(Target, proxied ? Proxy : null, status, status is null ? null : response.Headers, ReadOnlyMemory<byte>.Empty, exception);
        IResponseClassifier classifier = sut;
        return classifier.Blame(in context, sut.Classify(in context));
    }

    [Fact]
    public void Blame_ThroughAProxy_FollowsTheEvidence()
    {
        Blame(HttpStatusCode.OK, null).Should().Be(AttemptBlame.None);
        Blame(HttpStatusCode.ProxyAuthenticationRequired, null).Should().Be(AttemptBlame.Proxy);
        Blame(HttpStatusCode.Unauthorized, null, configure: r => r.Headers.ProxyAuthenticate.ParseAdd("Basic realm=\"proxy\"")).Should().Be(AttemptBlame.Proxy);
        Blame(null, new HttpRequestException(HttpRequestError.ConnectionError, "refused")).Should().Be(AttemptBlame.Proxy);
        Blame(null, new HttpRequestException(HttpRequestError.ProxyTunnelError, "The proxy tunnel request to proxy 'http://10.0.0.1:8080/' failed with status code '407'."))
            .Should().Be(AttemptBlame.Proxy, "the proxy refused us");
        Blame(null, new HttpRequestException(HttpRequestError.ProxyTunnelError, "The proxy tunnel request to proxy 'http://10.0.0.1:8080/' failed with status code '502'."))
            .Should().Be(AttemptBlame.ProxyAndHost, "the proxy could not reach the host");
        Blame(HttpStatusCode.BadGateway, null).Should().Be(AttemptBlame.ProxyAndHost);
        Blame(HttpStatusCode.Forbidden, null).Should().Be(AttemptBlame.ProxyAndHost, "a block is between the proxy and the host");
        Blame(null, new TimeoutException("attempt timeout")).Should().Be(AttemptBlame.Host);
        Blame(null, new IOException("reset")).Should().Be(AttemptBlame.Host);
        Blame(HttpStatusCode.InternalServerError, null).Should().Be(AttemptBlame.Host);
        Blame(HttpStatusCode.TooManyRequests, null).Should().Be(AttemptBlame.Host);
    }

    [Fact]
    public void Blame_WithoutAProxy_IsAlwaysTheHosts()
    {
        Blame(null, new HttpRequestException(HttpRequestError.ConnectionError, "refused"), proxied: false).Should().Be(AttemptBlame.Host);
        Blame(HttpStatusCode.BadGateway, null, proxied: false).Should().Be(AttemptBlame.Host);
        Blame(HttpStatusCode.OK, null, proxied: false).Should().Be(AttemptBlame.None);
    }

    [Fact]
    public void Classify_BlockMarkers_AreFoundCaseInsensitivelyInTheScannedPrefixOnly()
    {
        var options = new ClassificationOptions { MarkerScanBytes = 64 };
        options.BlockMarkers.Add("captcha");
        var sut = new DefaultResponseClassifier(options);

        Classify(sut, HttpStatusCode.OK, body: "<html>Please solve the CAPTCHA</html>").Should().Be(ResponseClass.Blocked);
        Classify(sut, HttpStatusCode.OK, body: "<html>all good</html>").Should().Be(ResponseClass.Success);
        Classify(sut, HttpStatusCode.OK, body: new string('x', 100) + "captcha").Should().Be(ResponseClass.Success, "only the first MarkerScanBytes are scanned");
        Classify(sut, HttpStatusCode.OK, body: "capt").Should().Be(ResponseClass.Success);
    }

    [Fact]
    public void Classify_CustomBlockStatusCodes()
    {
        var options = new ClassificationOptions();
        options.BlockStatusCodes.Clear();
        options.BlockStatusCodes.Add(451);
        var sut = new DefaultResponseClassifier(options);

        Classify(sut, HttpStatusCode.Forbidden).Should().Be(ResponseClass.Success);
        Classify(sut, HttpStatusCode.UnavailableForLegalReasons).Should().Be(ResponseClass.Blocked);
    }
}
