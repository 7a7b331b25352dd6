using TuplePool.Doctor;

return DoctorCommand.Run(args, Console.Out, Console.Error);
