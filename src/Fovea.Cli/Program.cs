Console.WriteLine("fovea");
