namespace TuplePool.Demo.Pictures;

/// <summary>
/// One sample of a churn run: <see cref="Seconds"/> since that side started, the client ports in
/// TIME_WAIT then (null when /proc/net/tcp could not be read), and the requests per second done in
/// the interval that ends here (NaN at the start, where there is no interval yet).
/// </summary>
internal readonly record struct ChurnPoint(double Seconds, int? TimeWait, double RequestsPerSecond);
