// Writes tests/Fovea.Vision.Tests/Fixtures/opencv/references.bin, the OpenCV outputs the vision tests compare against,
// so that `dotnet test` needs no native library. Run by hand after changing a case in OpenCvCases.cs or the OpenCV
// version, from anywhere inside the repository:
//     dotnet run --project tools/Fovea.OracleFixtures -c Release
// OpenCvSharp's native runtime needs GTK 3 (Debian 12: apt-get install libgtk-3-0). The opt-in live tests
// (tests/Fovea.Vision.OpenCvTests) check that the committed file still equals what this writes.
using Fovea.OracleFixtures;
using Fovea.Vision.Tests.Oracle;

var dir = new DirectoryInfo(Directory.GetCurrentDirectory());
while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Fovea.sln"))) dir = dir.Parent;
if (dir is null)
{
    Console.Error.WriteLine("run this inside the Fovea repository (no Fovea.sln above " + Directory.GetCurrentDirectory() + ")");
    return 1;
}
string path = Path.Combine(dir.FullName, OpenCvCases.ReferencePath);
var references = OpenCvReferences.All(dir.FullName).ToList();
OpenCvReferenceFile.Write(path, references);
Console.WriteLine($"OpenCV {OpenCvSharp.Cv2.GetVersionString()}: wrote {references.Count} references, {new FileInfo(path).Length} bytes, to {path}");
return 0;
